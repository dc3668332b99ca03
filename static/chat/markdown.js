/* Markdown for model and user text, safely.
 *
 * Raw HTML in the text is shown as text (escaped), never as markup; images become links (a
 * remote image would tell its server who reads the chat); and the result still goes through
 * DOMPurify, which drops any attribute or URL that could run script. Code blocks are
 * highlighted by highlight.js, which escapes what it colours.
 */
(function () {
  "use strict";

  function escapeHtml(text) {
    return String(text)
      .replace(/&/g, "&amp;")
      .replace(/</g, "&lt;")
      .replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;")
      .replace(/'/g, "&#39;");
  }

  const md = new marked.Marked({
    gfm: true,
    breaks: true,
    renderer: {
      html(token) {
        return escapeHtml(token.text);
      },
      image(token) {
        const label = escapeHtml(token.text || token.href);
        return `<a href="${escapeHtml(token.href)}">${label}</a>`;
      },
    },
  });

  DOMPurify.addHook("afterSanitizeAttributes", function (node) {
    if (node.tagName === "A") {
      node.setAttribute("target", "_blank");
      node.setAttribute("rel", "noopener noreferrer nofollow");
    }
  });

  const PURIFY = {
    FORBID_TAGS: ["style", "img", "svg", "math", "form", "input", "button", "iframe", "video", "audio"],
    FORBID_ATTR: ["style", "id"],
  };

  function renderMarkdown(text) {
    return DOMPurify.sanitize(md.parse(String(text || "")), PURIFY);
  }

  function highlightBlock(block) {
    if (block.dataset.highlighted) return;
    // marked marks fenced code with class "language-x"; unknown languages are auto-detected.
    const lang = (block.className.match(/language-([\w-]+)/) || [])[1];
    if (lang && !hljs.getLanguage(lang)) block.className = "";
    hljs.highlightElement(block);
  }

  function highlightIn(element) {
    element.querySelectorAll("pre code").forEach(highlightBlock);
  }

  hljs.configure({ ignoreUnescapedHTML: true });
  window.EntitiesMarkdown = { renderMarkdown, highlightIn, highlightBlock, escapeHtml };
})();
