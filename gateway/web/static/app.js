// pkgate pages: small enhancements only. Every action also works without
// this script (forms post normally; revoke then asks on a separate page).
(function () {
  "use strict";

  var live = function (text) {
    var el = document.getElementById("live-status");
    if (!el) return;
    el.textContent = "";
    window.setTimeout(function () { el.textContent = text; }, 50);
  };

  // After a token was created the page is the answer to a POST. Replace the
  // history entry with the plain settings URL so that reloading or going
  // back never re-submits the form, and the secret is not shown again.
  // Done after the load event: a URL fragment present at load time would
  // make the browser scroll to it and move focus away from the new token.
  var replaceURL = document.body.getAttribute("data-replace-url");
  if (replaceURL && window.history && window.history.replaceState) {
    var replace = function () { window.history.replaceState(null, "", replaceURL); };
    if (document.readyState === "complete") replace(); else window.addEventListener("load", replace);
  }

  // Open a collapsed section named by the URL fragment (#deploy-tokens).
  var openFromHash = function () {
    if (!location.hash) return;
    var el = document.getElementById(location.hash.slice(1));
    if (el && el.tagName === "DETAILS") el.open = true;
  };
  openFromHash();
  window.addEventListener("hashchange", openFromHash);

  // Move focus to the new-token panel or the error summary, so keyboard and
  // screen-reader users land on what changed.
  var focusTarget = document.querySelector("[data-autofocus]");
  if (focusTarget) {
    var details = focusTarget.closest("details");
    if (details) details.open = true;
    focusTarget.focus();
  }

  // Copy buttons: data-copy names the element whose value or text to copy.
  var copyText = function (text, done) {
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { done(true); }, function () { done(fallbackCopy(text)); });
    } else {
      done(fallbackCopy(text));
    }
  };
  var fallbackCopy = function (text) {
    var ta = document.createElement("textarea");
    ta.value = text;
    ta.setAttribute("readonly", "");
    ta.className = "offscreen";
    document.body.appendChild(ta);
    ta.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(ta);
    return ok;
  };
  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest("[data-copy]");
    if (!btn) return;
    var src = document.getElementById(btn.getAttribute("data-copy"));
    if (!src) return;
    var text = "value" in src && src.tagName === "INPUT" ? src.value : src.textContent;
    copyText(text, function (ok) {
      if (!ok && src.tagName === "INPUT") { src.focus(); src.select(); }
      live(ok ? "Copied to clipboard." : "Press Ctrl+C to copy.");
      btn.classList.add(ok ? "is-copied" : "is-copy-failed");
      window.setTimeout(function () { btn.classList.remove("is-copied", "is-copy-failed"); }, 2000);
    });
  });

  // Select the whole token when its field gets focus or a click.
  var tokenInput = document.getElementById("new-token-value");
  if (tokenInput) {
    tokenInput.addEventListener("focus", function () { tokenInput.select(); });
    tokenInput.addEventListener("click", function () { tokenInput.select(); });
  }

  // Revoke: confirm in a modal dialog, then post with confirm=yes.
  var dialog = document.getElementById("revoke-dialog");
  if (dialog && typeof dialog.showModal === "function") {
    var pending = null, opener = null;
    document.addEventListener("submit", function (ev) {
      var form = ev.target;
      if (!form.hasAttribute("data-revoke")) return;
      if (form.elements.confirm.value === "yes") return;
      ev.preventDefault();
      pending = form;
      opener = ev.submitter || form.querySelector("button");
      dialog.querySelector('[data-slot="name"]').textContent = form.getAttribute("data-token-name");
      dialog.querySelector('[data-slot="user"]').textContent = form.getAttribute("data-token-user");
      dialog.returnValue = "";
      dialog.showModal();
    });
    dialog.addEventListener("close", function () {
      if (dialog.returnValue === "confirm" && pending) {
        pending.elements.confirm.value = "yes";
        var btn = pending.querySelector("button");
        if (btn) { btn.disabled = true; btn.textContent = "Revoking…"; }
        pending.submit();
      } else if (opener) {
        opener.focus();
      }
      pending = null;
    });
  }

  // Avoid double submission of the create form.
  var createForm = document.getElementById("deploy-token-form");
  if (createForm) {
    createForm.addEventListener("submit", function () {
      var b = document.getElementById("create-token");
      window.setTimeout(function () { if (b) { b.disabled = true; b.textContent = "Creating…"; } }, 0);
    });
  }
})();
