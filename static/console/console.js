/* The operator's console: a model pull's live progress, and the active runs kept fresh. */
(function () {
  "use strict";

  function csrfToken(form) {
    const field = (form || document).querySelector("input[name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  }

  // --- pulling a model: Ollama's progress lines, read as they stream in -------------------------

  const pullForm = document.getElementById("pull-form");
  if (pullForm) {
    const box = document.getElementById("pull-progress");
    const bar = document.getElementById("pull-bar");
    const percent = document.getElementById("pull-percent");
    const status = document.getElementById("pull-status");
    const button = pullForm.querySelector("button");

    function show(line) {
      if (line.error) {
        status.textContent = `Failed: ${line.error}`;
        box.classList.add("failed");
        return;
      }
      if (line.total) {
        const value = Math.floor((100 * (line.completed || 0)) / line.total);
        bar.value = value;
        percent.textContent = `${value}%`;
      }
      status.textContent = line.status || "";
      if (line.status === "success") {
        bar.value = 100;
        percent.textContent = "100%";
        status.textContent = "Pulled. Reloading the catalogue…";
        box.classList.add("done");
      }
    }

    pullForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const name = pullForm.elements.name.value.trim();
      if (!name) return;
      const fields = { name };
      if (pullForm.elements.host) fields.host = pullForm.elements.host.value;
      box.hidden = false;
      box.classList.remove("failed", "done");
      bar.value = 0;
      bar.removeAttribute("value"); // indeterminate until Ollama knows the size
      percent.textContent = "";
      status.textContent = `Pulling ${name}…`;
      button.disabled = true;
      let succeeded = false;
      try {
        const response = await fetch(pullForm.action, {
          method: "POST",
          headers: { "X-CSRFToken": csrfToken(pullForm) },
          body: new URLSearchParams(fields),
          credentials: "same-origin",
        });
        if (!response.ok) {
          const body = await response.json().catch(() => ({}));
          show({ error: (body.error && body.error.message) || `the server answered ${response.status}` });
          return;
        }
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let pending = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          pending += value;
          const lines = pending.split("\n");
          pending = lines.pop();
          for (const text of lines) {
            if (!text.trim()) continue;
            const line = JSON.parse(text);
            show(line);
            if (line.status === "success") succeeded = true;
          }
        }
      } catch (error) {
        show({ error: error.message });
      } finally {
        button.disabled = false;
      }
      if (succeeded) setTimeout(() => location.reload(), 600);
    });
  }

  document.querySelectorAll("form.delete-model").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!confirm(`Delete ${form.dataset.name} from ${form.dataset.host}? Assistants using it will fail until it is pulled again.`)) {
        event.preventDefault();
      }
    });
  });

  // --- active runs: polled every second while the tab is visible; cancel from the row ---------

  const table = document.getElementById("active-runs");
  if (table) {
    const body = table.tBodies[0];
    const note = document.getElementById("runs-status");
    const token = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);

    function cell(text, className) {
      const td = document.createElement("td");
      td.textContent = text;
      if (className) td.className = className;
      return td;
    }

    function render(runs) {
      if (!runs.length) {
        const row = document.createElement("tr");
        row.className = "empty";
        const td = cell("No run is active.");
        td.colSpan = 9;
        row.append(td);
        body.replaceChildren(row);
        return;
      }
      body.replaceChildren(
        ...runs.map((run) => {
          const row = document.createElement("tr");
          row.dataset.run = run.id;
          const head = document.createElement("th");
          head.scope = "row";
          const code = document.createElement("code");
          code.textContent = run.id;
          head.append(code);
          const actions = document.createElement("td");
          if (table.dataset.cancel) {
            // Only with the permission to cancel runs does the page name where to ask.
            const button = document.createElement("button");
            button.type = "button";
            button.className = "button cancel-run";
            button.dataset.run = run.id;
            button.textContent = run.status === "cancelling" ? "Cancelling…" : "Cancel";
            button.disabled = run.status === "cancelling";
            actions.append(button);
          }
          row.append(
            head,
            cell(run.status),
            cell(run.model),
            cell(run.ollama_host),
            cell(run.assistant),
            cell(run.user),
            cell(String(run.tokens), "num"),
            cell(`${run.elapsed_seconds} s`, "num"),
            actions
          );
          return row;
        })
      );
    }

    async function refresh() {
      try {
        const response = await fetch(table.dataset.source, { credentials: "same-origin" });
        if (response.ok) {
          render((await response.json()).data);
          note.textContent = "";
        } else {
          note.textContent = `Could not refresh (${response.status}).`;
        }
      } catch (error) {
        note.textContent = `Could not refresh: ${error.message}`;
      }
    }

    table.addEventListener("click", async (event) => {
      const button = event.target.closest("button.cancel-run");
      if (!button) return;
      button.disabled = true;
      const url = table.dataset.cancel.replace("RUN_ID", encodeURIComponent(button.dataset.run));
      const response = await fetch(url, {
        method: "POST",
        headers: { "X-CSRFToken": token ? decodeURIComponent(token[1]) : "" },
        credentials: "same-origin",
      });
      const result = await response.json().catch(() => ({}));
      note.textContent = response.ok
        ? `${result.id}: ${result.status === "cancelled" ? "cancelled" : "cancel requested; its worker stops it"}.`
        : (result.error && result.error.message) || `Cancel failed (${response.status}).`;
      refresh();
    });

    // A hidden tab does not poll; it catches up at once when shown again.
    let timer = null;
    function poll() {
      clearInterval(timer);
      timer = document.hidden ? null : setInterval(refresh, 1000);
    }
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) refresh();
      poll();
    });
    poll();
  }
})();
