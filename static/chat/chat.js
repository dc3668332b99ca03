/* The chat page: lists and edits through the REST API (/v1, with the session), live through
 * the thread websocket (/ws/threads/{id}/, protocol in docs/chat.md).
 *
 * Every run event carries its run's sequence number; the page remembers the last one it
 * applied per run, ignores any it has seen, and after a dropped connection subscribes again
 * "after" that number, so no token is lost or shown twice.
 */
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("chat-config").textContent);
  const { renderMarkdown, highlightIn, highlightBlock } = window.EntitiesMarkdown;
  const $ = (id) => document.getElementById(id);
  const ACTIVE = new Set(["queued", "in_progress", "requires_action", "cancelling"]);
  const ASSISTANT_KEY = `entities.assistant.${config.user.id}`;
  const JOIN_TIMEOUT_MS = 15000; // a send() waits this long for the socket to join

  const ui = {
    assistant: $("assistant"),
    assistantModel: $("assistant-model"),
    threads: $("threads"),
    threadsEmpty: $("threads-empty"),
    noThread: $("no-thread"),
    thread: $("thread"),
    title: $("thread-title"),
    renameButton: $("rename"),
    renameForm: $("rename-form"),
    renameInput: $("rename-input"),
    participants: $("participants"),
    timeline: $("timeline"),
    olderNote: $("older-note"),
    input: $("input"),
    send: $("send"),
    stop: $("stop"),
    notice: $("notice"),
    connection: $("connection"),
    liveStatus: $("live-status"),
  };

  const state = {
    assistants: new Map(),
    threads: [],
    thread: null,
    people: new Map(),
    messages: new Map(),
    runs: new Map(),
    steps: new Map(),
    lastSeq: new Map(),
    following: new Set(),
    resubscribes: new Map(),
    pending: new Map(),
    ws: null,
    retries: 0,
    retryTimer: null,
    joined: null,
    requestSerial: 0,
    dirty: new Set(),
  };

  // --- the REST API -----------------------------------------------------------------------

  async function api(method, path, body) {
    const options = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    if (method !== "GET") options.headers["X-CSRFToken"] = config.csrf_token;
    const response = await fetch(path, options);
    let data = null;
    try {
      data = await response.json();
    } catch (_) {
      data = null;
    }
    if (response.status === 401) {
      location.assign(`/login/?next=${encodeURIComponent(location.pathname + location.hash)}`);
    }
    if (!response.ok) {
      const message = (data && data.error && data.error.message) || `${method} ${path}: ${response.status}`;
      throw new Error(message);
    }
    return data;
  }

  function showNotice(text) {
    ui.notice.textContent = text;
    ui.notice.hidden = false;
    clearTimeout(showNotice.timer);
    showNotice.timer = setTimeout(() => (ui.notice.hidden = true), 12000);
  }

  function announce(text) {
    ui.liveStatus.textContent = text;
  }

  function fail(error) {
    showNotice(error.message || String(error));
  }

  // --- assistants ---------------------------------------------------------------------------

  function assistantLabel(a) {
    return a.name || a.id;
  }

  async function loadAssistants() {
    const list = await api("GET", "/v1/assistants?limit=100&order=asc");
    state.assistants = new Map(list.data.map((a) => [a.id, a]));
    renderAssistants(localStorage.getItem(ASSISTANT_KEY));
  }

  function renderAssistants(selected) {
    ui.assistant.replaceChildren();
    if (!state.assistants.size) {
      const option = new Option("No assistant yet — create one", "");
      ui.assistant.add(option);
    }
    for (const a of state.assistants.values()) ui.assistant.add(new Option(assistantLabel(a), a.id));
    if (selected && state.assistants.has(selected)) ui.assistant.value = selected;
    showAssistantModel();
  }

  function showAssistantModel() {
    const a = state.assistants.get(ui.assistant.value);
    ui.assistantModel.textContent = a ? a.model : "";
  }

  ui.assistant.addEventListener("change", () => {
    localStorage.setItem(ASSISTANT_KEY, ui.assistant.value);
    showAssistantModel();
  });

  const dialog = $("assistant-dialog");
  $("new-assistant").addEventListener("click", async () => {
    $("assistant-error").hidden = true;
    dialog.showModal();
    const problem = $("models-problem");
    try {
      const models = await api("GET", "/v1/models");
      $("model-options").replaceChildren(...models.data.map((m) => new Option(m.id, m.id)));
      problem.hidden = true;
    } catch (error) {
      problem.textContent = `Models could not be listed: ${error.message}`;
      problem.hidden = false;
    }
  });
  $("assistant-cancel").addEventListener("click", () => dialog.close());
  $("assistant-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {
      name: $("assistant-name").value.trim(),
      model: $("assistant-model-input").value.trim(),
      instructions: $("assistant-instructions").value.trim() || null,
    };
    try {
      const created = await api("POST", "/v1/assistants", body);
      state.assistants.set(created.id, created);
      localStorage.setItem(ASSISTANT_KEY, created.id);
      renderAssistants(created.id);
      dialog.close();
      ui.input.focus();
    } catch (error) {
      $("assistant-error").textContent = error.message;
      $("assistant-error").hidden = false;
    }
  });

  // --- threads ------------------------------------------------------------------------------

  function threadName(thread) {
    return (thread.metadata && thread.metadata.name) || "Untitled chat";
  }

  async function loadThreads() {
    const list = await api("GET", `/v1/users/${encodeURIComponent(config.user.id)}/threads?limit=100`);
    state.threads = list.data;
    renderThreads();
  }

  function renderThreads() {
    ui.threads.replaceChildren(
      ...state.threads.map((thread) => {
        const item = document.createElement("li");
        const button = document.createElement("button");
        button.type = "button";
        button.className = "thread-link";
        button.textContent = threadName(thread);
        button.dataset.id = thread.id;
        if (state.thread && state.thread.id === thread.id) button.setAttribute("aria-current", "page");
        button.addEventListener("click", () => openThread(thread.id).catch(fail));
        item.append(button);
        return item;
      })
    );
    ui.threadsEmpty.hidden = state.threads.length > 0;
  }

  async function createThread(name) {
    const thread = await api("POST", "/v1/threads", name ? { metadata: { name } } : {});
    state.threads.unshift(thread);
    await openThread(thread.id);
    return thread;
  }

  function resetTimeline() {
    for (const key of ["messages", "runs", "steps", "lastSeq", "people", "pending"]) state[key].clear();
    state.following.clear();
    ui.timeline.replaceChildren();
    ui.olderNote.hidden = true;
  }

  async function openThread(id) {
    disconnect();
    resetTimeline();
    document.body.classList.remove("threads-open");
    $("toggle-threads").setAttribute("aria-expanded", "false");
    const base = `/v1/threads/${encodeURIComponent(id)}`;
    const [thread, messages, runs, people] = await Promise.all([
      api("GET", base),
      api("GET", `${base}/messages?order=desc&limit=100`),
      api("GET", `${base}/runs?order=desc&limit=20`),
      api("GET", `/chat/threads/${encodeURIComponent(id)}/participants`),
    ]);
    state.thread = thread;
    history.replaceState(null, "", `#${id}`);
    const known = state.threads.findIndex((t) => t.id === id);
    if (known === -1) state.threads.unshift(thread);
    else state.threads[known] = thread;
    renderThreads();
    renderHead();
    setPeople(people.data);
    runs.data.forEach(upsertRun);
    messages.data.slice().reverse().forEach(upsertMessage);
    ui.olderNote.hidden = !messages.has_more;
    const withTools = runs.data.filter((r) => r.tools && r.tools.length);
    const steps = await Promise.all(
      withTools.map((r) => api("GET", `${base}/runs/${r.id}/steps?order=asc&limit=100`))
    );
    steps.forEach((list) => list.data.forEach(upsertStep));
    flush();
    scrollToEnd(true);
    connect();
    ui.input.focus();
  }

  function renderHead() {
    ui.noThread.hidden = true;
    ui.thread.hidden = false;
    ui.title.textContent = threadName(state.thread);
    document.title = `${threadName(state.thread)} · Entities`;
  }

  function setPeople(people) {
    state.people = new Map(people.map((p) => [p.id, p.name]));
    ui.participants.replaceChildren(
      ...people.map((p) => {
        const chip = document.createElement("li");
        chip.className = "chip";
        chip.textContent = p.id === config.user.id ? `${p.name} (you)` : p.name;
        return chip;
      })
    );
  }

  async function refreshPeople() {
    const people = await api("GET", `/chat/threads/${encodeURIComponent(state.thread.id)}/participants`);
    setPeople(people.data);
  }

  async function rename(name) {
    const metadata = Object.assign({}, state.thread.metadata, { name });
    state.thread = await api("POST", `/v1/threads/${encodeURIComponent(state.thread.id)}`, { metadata });
    const index = state.threads.findIndex((t) => t.id === state.thread.id);
    if (index !== -1) state.threads[index] = state.thread;
    renderThreads();
    renderHead();
  }

  function openRename() {
    ui.renameInput.value = threadName(state.thread);
    ui.renameForm.hidden = false;
    ui.title.hidden = true;
    ui.renameButton.hidden = true;
    ui.renameInput.focus();
    ui.renameInput.select();
  }

  function closeRename() {
    ui.renameForm.hidden = true;
    ui.title.hidden = false;
    ui.renameButton.hidden = false;
  }

  ui.renameButton.addEventListener("click", openRename);
  $("rename-cancel").addEventListener("click", () => {
    closeRename();
    ui.renameButton.focus();
  });
  ui.renameForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = ui.renameInput.value.trim();
    if (!name) return;
    try {
      await rename(name);
      closeRename();
      ui.renameButton.focus();
    } catch (error) {
      fail(error);
    }
  });

  $("delete-thread").addEventListener("click", async () => {
    if (!state.thread || !confirm(`Delete “${threadName(state.thread)}” for everyone in it?`)) return;
    const id = state.thread.id;
    try {
      await api("DELETE", `/v1/threads/${encodeURIComponent(id)}`);
    } catch (error) {
      fail(error);
      return;
    }
    disconnect();
    resetTimeline();
    state.thread = null;
    state.threads = state.threads.filter((t) => t.id !== id);
    history.replaceState(null, "", location.pathname);
    renderThreads();
    ui.thread.hidden = true;
    ui.noThread.hidden = false;
    $("new-thread").focus();
  });

  $("invite-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const field = $("invite-input");
    const who = field.value.trim();
    if (!who || !state.thread) return;
    try {
      const people = await api("POST", `/chat/threads/${encodeURIComponent(state.thread.id)}/participants`, {
        user: who,
      });
      setPeople(people.data);
      field.value = "";
      announce(`Invited ${who}.`);
    } catch (error) {
      fail(error);
    }
  });

  $("new-thread").addEventListener("click", () => createThread().catch(fail));

  $("toggle-threads").addEventListener("click", (event) => {
    const open = document.body.classList.toggle("threads-open");
    event.currentTarget.setAttribute("aria-expanded", String(open));
    if (open) (ui.threads.querySelector("button") || $("new-thread")).focus();
  });

  // --- the timeline -------------------------------------------------------------------------

  function orderKey(id) {
    return id.slice(id.indexOf("_") + 1);
  }

  function insertSorted(parent, element) {
    for (const child of parent.children) {
      if (child.dataset.key > element.dataset.key) {
        parent.insertBefore(element, child);
        return;
      }
    }
    parent.append(element);
  }

  function runElement(runId) {
    let element = document.getElementById(`run-${runId}`);
    if (!element) {
      element = document.createElement("li");
      element.id = `run-${runId}`;
      element.className = "run";
      element.dataset.key = orderKey(runId);
      const items = document.createElement("ol");
      items.className = "run-items";
      const status = document.createElement("div");
      status.className = "run-status";
      element.append(items, status);
      insertSorted(ui.timeline, element);
    }
    return element;
  }

  function upsertRun(run) {
    state.runs.set(run.id, Object.assign(state.runs.get(run.id) || {}, run));
    markDirty(`run:${run.id}`);
  }

  function upsertMessage(message) {
    state.messages.set(message.id, message);
    markDirty(`message:${message.id}`);
  }

  function upsertStep(step) {
    if (step.type !== "tool_calls") return;
    state.steps.set(step.id, step);
    markDirty(`step:${step.id}`);
  }

  function markDirty(key) {
    state.dirty.add(key);
    if (!markDirty.scheduled) {
      markDirty.scheduled = true;
      requestAnimationFrame(() => {
        markDirty.scheduled = false;
        flush();
      });
    }
  }

  function flush() {
    const nearEnd = isNearEnd();
    for (const key of state.dirty) {
      const [kind, id] = [key.slice(0, key.indexOf(":")), key.slice(key.indexOf(":") + 1)];
      if (kind === "run") renderRun(id);
      else if (kind === "message") renderMessage(id);
      else if (kind === "step") renderStep(id);
    }
    state.dirty.clear();
    updateComposer();
    if (nearEnd) scrollToEnd();
  }

  function isNearEnd() {
    const t = ui.timeline;
    return t.scrollHeight - t.scrollTop - t.clientHeight < 120;
  }

  function scrollToEnd() {
    ui.timeline.scrollTop = ui.timeline.scrollHeight;
  }

  function when(seconds) {
    const date = new Date(seconds * 1000);
    const time = date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    return date.toDateString() === new Date().toDateString() ? time : `${date.toLocaleDateString()} ${time}`;
  }

  function speaker(message) {
    if (message.role === "assistant") {
      const a = state.assistants.get(message.assistant_id);
      return a ? assistantLabel(a) : "Assistant";
    }
    if (message.sender_id === config.user.id) return "You";
    return state.people.get(message.sender_id) || "Someone";
  }

  function messageText(message) {
    return (message.content || [])
      .filter((p) => p.type === "text")
      .map((p) => p.text.value)
      .join("");
  }

  function renderMessage(id) {
    const message = state.messages.get(id);
    let element = document.getElementById(`msg-${id}`);
    if (!element) {
      element = document.createElement("li");
      element.id = `msg-${id}`;
      element.dataset.key = orderKey(id);
      const meta = document.createElement("div");
      meta.className = "message-meta";
      const who = document.createElement("span");
      who.className = "who";
      const time = document.createElement("time");
      meta.append(who, time);
      const body = document.createElement("div");
      body.className = "message-body markdown";
      const images = document.createElement("div");
      images.className = "message-images";
      element.append(meta, body, images);
      const parent = message.run_id && message.role === "assistant"
        ? runElement(message.run_id).querySelector(".run-items")
        : ui.timeline;
      insertSorted(parent, element);
    }
    const mine = message.role === "user" && message.sender_id === config.user.id;
    element.className = `message ${message.role}${mine ? " mine" : ""} ${message.status || ""}`;
    element.querySelector(".who").textContent = speaker(message);
    const time = element.querySelector("time");
    time.textContent = when(message.created_at);
    time.dateTime = new Date(message.created_at * 1000).toISOString();
    const body = element.querySelector(".message-body");
    const text = messageText(message);
    if (!text && message.status === "in_progress") {
      body.innerHTML = '<span class="typing" aria-label="Writing">…</span>';
    } else {
      body.innerHTML = renderMarkdown(text);
      highlightIn(body);
    }
    const images = (message.content || []).filter((p) => p.type === "image_file");
    element.querySelector(".message-images").replaceChildren(
      ...images.map((p) => fileImage(p.image_file.file_id, "An image in this message"))
    );
  }

  function fileImage(fileId, alt) {
    const image = document.createElement("img");
    image.src = `/v1/files/${encodeURIComponent(fileId)}/content`;
    image.alt = alt;
    image.loading = "lazy";
    image.className = "file-image";
    return image;
  }

  function block(label, text, language) {
    const wrap = document.createDocumentFragment();
    const caption = document.createElement("div");
    caption.className = "tool-label";
    caption.textContent = label;
    const pre = document.createElement("pre");
    const code = document.createElement("code");
    if (language) code.className = `language-${language}`;
    code.textContent = text;
    pre.append(code);
    wrap.append(caption, pre);
    return wrap;
  }

  function prettyJson(text) {
    try {
      return JSON.stringify(JSON.parse(text), null, 2);
    } catch (_) {
      return text || "";
    }
  }

  function renderToolCall(call) {
    const details = document.createElement("details");
    details.className = `tool-call ${call.type}`;
    details.open = true;
    const summary = document.createElement("summary");
    if (call.type === "code_interpreter") {
      summary.textContent = "Code interpreter";
      const ci = call.code_interpreter || {};
      details.append(summary, block("Code", ci.input || "", "python"));
      for (const output of ci.outputs || []) {
        if (output.type === "logs") details.append(block("Output", output.logs || ""));
        else if (output.type === "image" && output.image) {
          details.append(fileImage(output.image.file_id, "An image the code made"));
        }
      }
    } else {
      const fn = call.function || {};
      const name = document.createElement("span");
      name.className = "tool-name";
      name.textContent = fn.name || "function";
      const kind = document.createElement("span");
      kind.className = "muted";
      kind.textContent = " — function call";
      summary.append(name, kind);
      details.append(summary, block("Arguments", prettyJson(fn.arguments), "json"));
      const output = fn.output === null || fn.output === undefined ? "(waiting for its output…)" : fn.output;
      details.append(block("Output", output));
    }
    return details;
  }

  function renderStep(id) {
    const step = state.steps.get(id);
    let element = document.getElementById(`step-${id}`);
    if (!element) {
      element = document.createElement("li");
      element.id = `step-${id}`;
      element.className = "step";
      element.dataset.key = orderKey(id);
      insertSorted(runElement(step.run_id).querySelector(".run-items"), element);
    }
    const calls = (step.step_details && step.step_details.tool_calls) || [];
    const openBefore = [...element.querySelectorAll("details")].map((d) => d.open);
    element.replaceChildren(...calls.filter(Boolean).map(renderToolCall));
    element.querySelectorAll("details").forEach((d, i) => {
      if (i < openBefore.length) d.open = openBefore[i];
    });
    element.querySelectorAll("pre code[class]").forEach(highlightBlock);
  }

  const STATUS_TEXT = {
    queued: "Waiting for a worker…",
    in_progress: "Answering…",
    requires_action: "Waiting for the output of a client function.",
    cancelling: "Stopping…",
    cancelled: "Stopped.",
    expired: "This run expired before it could finish.",
  };

  function renderRun(id) {
    const run = state.runs.get(id);
    const element = runElement(id);
    const status = element.querySelector(".run-status");
    element.dataset.status = run.status;
    status.className = `run-status ${run.status}`;
    status.replaceChildren();
    if (run.status === "failed") {
      const error = run.last_error || {};
      const strong = document.createElement("strong");
      strong.textContent = "The run failed: ";
      status.append(strong, document.createTextNode(error.message || "unknown error"));
      status.setAttribute("role", "alert");
    } else if (run.status === "incomplete") {
      const reason = (run.incomplete_details && run.incomplete_details.reason) || "";
      status.textContent = `The answer is incomplete${reason ? ` (${reason.replace(/_/g, " ")})` : ""}.`;
    } else if (run.status === "completed") {
      const usage = run.usage || {};
      const tokens = usage.total_tokens ? ` · ${usage.prompt_tokens} + ${usage.completion_tokens} tokens` : "";
      status.textContent = `${run.model}${tokens}`;
    } else {
      status.textContent = STATUS_TEXT[run.status] || run.status;
      if (ACTIVE.has(run.status) && run.status !== "requires_action") {
        const dots = document.createElement("span");
        dots.className = "pulse";
        dots.setAttribute("aria-hidden", "true");
        status.prepend(dots);
      }
    }
  }

  function activeRun() {
    for (const run of state.runs.values()) {
      if (ACTIVE.has(run.status) && run.thread_id === (state.thread && state.thread.id)) return run;
    }
    return null;
  }

  function updateComposer() {
    const run = activeRun();
    ui.stop.hidden = !run;
    ui.stop.disabled = !!run && run.status === "cancelling";
  }

  // --- run events (the SSE stream's objects) ---------------------------------------------------

  function appendDelta(message, delta) {
    message.content = message.content || [];
    for (const part of delta.content || []) {
      const index = part.index || 0;
      const current = message.content[index];
      if (part.type === "text") {
        const value = (part.text && part.text.value) || "";
        if (current && current.type === "text") current.text.value += value;
        else message.content[index] = { type: "text", text: { value, annotations: [] } };
      } else {
        message.content[index] = part;
      }
    }
  }

  // As OpenAI streams steps: these strings grow delta by delta; lists merge by their "index".
  const APPENDED = new Set(["arguments", "input", "output", "logs", "value"]);

  function mergeDelta(target, delta) {
    for (const [key, value] of Object.entries(delta)) {
      if (key === "index") continue;
      if (Array.isArray(value)) {
        target[key] = target[key] || [];
        value.forEach((item, position) => {
          const at = item && typeof item.index === "number" ? item.index : target[key].length + position;
          if (item && typeof item === "object") {
            target[key][at] = target[key][at] || {};
            mergeDelta(target[key][at], item);
          } else {
            target[key][at] = item;
          }
        });
      } else if (value && typeof value === "object") {
        target[key] = target[key] && typeof target[key] === "object" ? target[key] : {};
        mergeDelta(target[key], value);
      } else if (APPENDED.has(key) && typeof value === "string" && typeof target[key] === "string") {
        target[key] += value;
      } else {
        target[key] = value;
      }
    }
  }

  function applyEvent(runId, name, data) {
    if (name === "thread.message.delta") {
      const message = state.messages.get(data.id);
      if (!message) return;
      appendDelta(message, data.delta);
      markDirty(`message:${data.id}`);
    } else if (name === "thread.run.step.delta") {
      const step = state.steps.get(data.id);
      if (!step) return;
      mergeDelta(step, { step_details: data.delta.step_details || {} });
      markDirty(`step:${data.id}`);
    } else if (data.object === "thread.message") {
      upsertMessage(data);
    } else if (data.object === "thread.run.step") {
      upsertStep(data);
    } else if (data.object === "thread.run") {
      const before = state.runs.get(runId);
      upsertRun(data);
      if (!before || before.status !== data.status) announceRun(data);
    }
  }

  function announceRun(run) {
    if (run.status === "in_progress") announce("The assistant is answering.");
    else if (run.status === "completed") announce("The answer is complete.");
    else if (run.status === "cancelled") announce("Stopped.");
    else if (run.status === "failed") announce(`The run failed: ${(run.last_error || {}).message || ""}`);
  }

  // --- the websocket ------------------------------------------------------------------------

  function setConnection(text) {
    ui.connection.textContent = text;
  }

  function disconnect() {
    clearTimeout(state.retryTimer);
    if (state.ws) {
      const ws = state.ws;
      state.ws = null;
      ws.close(1000);
    }
  }

  function connect() {
    if (!state.thread) return;
    disconnect();
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/ws/threads/${encodeURIComponent(state.thread.id)}/`);
    state.ws = ws;
    setConnection("Connecting…");
    let resolveJoined, rejectJoined;
    state.joined = new Promise((resolve, reject) => {
      resolveJoined = resolve;
      rejectJoined = reject;
    });
    state.joined.catch(() => {}); // only a waiting send() reports it
    ws.addEventListener("message", (event) => {
      if (state.ws !== ws) return;
      const frame = JSON.parse(event.data);
      if (frame.type === "joined") {
        state.retries = 0;
        setConnection("");
        onJoined(frame).catch(fail);
        resolveJoined();
      } else {
        onFrame(frame);
      }
    });
    ws.addEventListener("close", (event) => {
      // A send() waiting for this socket to join hears why it never will.
      rejectJoined(new Error(event.code === 4403
        ? "You do not take part in this chat any more: your message was not sent."
        : "The connection to the server was lost: your message was not sent."));
      if (state.ws !== ws) return; // closed on purpose, or replaced
      state.ws = null;
      if (event.code === 4401) {
        setConnection("Your session has ended: log in again.");
        location.assign(`/login/?next=${encodeURIComponent(location.pathname + location.hash)}`);
      } else if (event.code === 4403) {
        setConnection("You do not take part in this chat any more.");
      } else {
        const delay = Math.min(500 * 2 ** state.retries, 8000);
        state.retries += 1;
        setConnection(`Connection lost — reconnecting in ${Math.ceil(delay / 1000)} s…`);
        state.retryTimer = setTimeout(connect, delay);
      }
    });
  }

  function request(frame) {
    state.requestSerial += 1;
    const id = `r${state.requestSerial}`;
    state.ws.send(JSON.stringify(Object.assign({ id }, frame)));
    return id;
  }

  async function onJoined(frame) {
    // Whatever was being followed when the connection dropped goes on from its last number.
    const runs = new Set(state.following);
    if (frame.active_run) {
      upsertRun(frame.active_run);
      runs.add(frame.active_run.id);
    }
    for (const runId of runs) {
      state.following.add(runId);
      request({ type: "subscribe", run_id: runId, after: state.lastSeq.get(runId) || 0 });
    }
    // Messages posted while we were away, and since the page loaded them.
    const ids = [...state.messages.keys()].sort((a, b) => (orderKey(a) < orderKey(b) ? -1 : 1));
    const after = ids.length ? `&after=${encodeURIComponent(ids[ids.length - 1])}` : "";
    const base = `/v1/threads/${encodeURIComponent(frame.thread_id)}`;
    const newer = await api("GET", `${base}/messages?order=asc&limit=100${after}`);
    newer.data.forEach((m) => state.messages.has(m.id) || upsertMessage(m));
  }

  function onFrame(frame) {
    if (frame.type === "run.event") {
      const last = state.lastSeq.get(frame.run_id) || 0;
      if (frame.seq <= last) return; // seen already
      state.lastSeq.set(frame.run_id, frame.seq);
      state.resubscribes.delete(frame.run_id);
      state.following.add(frame.run_id);
      applyEvent(frame.run_id, frame.event, frame.data);
    } else if (frame.type === "run.done") {
      state.following.delete(frame.run_id);
    } else if (frame.type === "thread.event" && frame.event === "thread.message.created") {
      const known = state.messages.has(frame.data.id);
      if (!known) upsertMessage(frame.data);
      if (frame.data.sender_id && !state.people.has(frame.data.sender_id)) refreshPeople().catch(fail);
    } else if (frame.type === "ack") {
      state.pending.delete(frame.id);
      if (frame.run_id) state.following.add(frame.run_id);
    } else if (frame.type === "error" && frame.run_id && !frame.id) {
      // The server stopped streaming this run: say so, and pick it up again from the last number.
      showNotice(frame.error.message);
      const tries = (state.resubscribes.get(frame.run_id) || 0) + 1;
      state.resubscribes.set(frame.run_id, tries);
      if (tries <= 3) {
        setTimeout(() => {
          if (!state.ws || state.ws.readyState !== WebSocket.OPEN) return; // onJoined resumes it
          request({ type: "subscribe", run_id: frame.run_id, after: state.lastSeq.get(frame.run_id) || 0 });
        }, 1000 * tries);
      }
    } else if (frame.type === "error") {
      const text = state.pending.get(frame.id);
      state.pending.delete(frame.id);
      if (text !== undefined && !ui.input.value) ui.input.value = text;
      showNotice(frame.error.message);
    }
  }

  // --- sending and stopping ----------------------------------------------------------------------

  async function send() {
    const text = ui.input.value;
    if (!text.trim()) return;
    ui.notice.hidden = true;
    if (!state.thread) {
      await createThread(firstLine(text));
    } else if (!state.thread.metadata || !state.thread.metadata.name) {
      // One write at a time: SQLite refuses a write racing another one (docs/chat.md).
      await rename(firstLine(text)).catch(fail);
    }
    if (!state.ws || state.ws.readyState !== WebSocket.OPEN) {
      if (!state.ws) connect();
      let timer;
      const late = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error("The server does not answer: your message was not sent.")), JOIN_TIMEOUT_MS);
      });
      try {
        await Promise.race([state.joined, late]);
      } finally {
        clearTimeout(timer);
      }
    }
    const frame = { type: "message.create", content: text };
    if (ui.assistant.value) frame.assistant_id = ui.assistant.value;
    const id = request(frame);
    state.pending.set(id, text);
    ui.input.value = "";
    if (!ui.assistant.value) showNotice("No assistant is picked: your message was posted without an answer.");
  }

  function firstLine(text) {
    const line = text.trim().split("\n")[0].replace(/[*_`#>]/g, "").trim() || "Untitled chat";
    return line.length > 48 ? `${line.slice(0, 47)}…` : line;
  }

  function stop() {
    const run = activeRun();
    if (!run || !state.ws || state.ws.readyState !== WebSocket.OPEN) return;
    request({ type: "run.cancel", run_id: run.id });
    if (run.status !== "queued") upsertRun({ id: run.id, status: "cancelling" });
    announce("Stopping…");
  }

  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    send().catch(fail);
  });
  ui.stop.addEventListener("click", () => {
    stop();
    ui.input.focus();
  });
  ui.input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      send().catch(fail);
    }
  });
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || dialog.open) return;
    if (!ui.renameForm.hidden) {
      closeRename();
      ui.renameButton.focus();
    } else if (document.body.classList.contains("threads-open")) {
      $("toggle-threads").click();
    } else if (activeRun()) {
      event.preventDefault();
      stop();
    }
  });

  // --- start ------------------------------------------------------------------------------------

  async function start() {
    await Promise.all([loadAssistants(), loadThreads()]);
    const wanted = location.hash.slice(1);
    if (wanted && state.threads.some((t) => t.id === wanted)) await openThread(wanted);
    else ui.input.focus();
  }

  start().catch(fail);
})();
