// Portcullis passkeys: the only script the server sends, on the pages that offer
// passkeys. It asks the browser's WebAuthn API and posts ordinary forms; every page
// works without it, and where the browser cannot do WebAuthn its controls stay hidden.
"use strict";
(function () {
  var PKC = window.PublicKeyCredential;
  if (!PKC || !PKC.parseRequestOptionsFromJSON || !PKC.parseCreationOptionsFromJSON ||
      !PKC.prototype.toJSON || !navigator.credentials) {
    return;
  }

  function fail(form, text) {
    var p = form.querySelector("#passkey-error");
    if (p) { p.textContent = text; p.hidden = false; }
  }

  function finish(form, ceremony, credential) {
    form.querySelector("[data-role=ceremony]").value = ceremony;
    form.querySelector("[data-role=credential]").value = JSON.stringify(credential.toJSON());
    form.submit();
  }

  function options(form, purpose) {
    var body = new URLSearchParams();
    body.set("csrf", form.elements.csrf.value);
    body.set("purpose", purpose);
    return fetch("/passkeys/options", {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "Content-Type": "application/x-www-form-urlencoded" }
    }).then(function (r) {
      if (!r.ok) { throw new Error("options " + r.status); }
      return r.json();
    });
  }

  function get(form, purpose, mediation, signal) {
    return options(form, purpose).then(function (o) {
      var req = { publicKey: PKC.parseRequestOptionsFromJSON(o.publicKey) };
      if (mediation) { req.mediation = mediation; }
      if (signal) { req.signal = signal; }
      return navigator.credentials.get(req).then(function (c) {
        if (c) { finish(form, o.ceremony, c); }
      });
    });
  }

  // Signing in, the step after a password, and confirming it is you.
  document.querySelectorAll("form[data-passkey]").forEach(function (form) {
    var purpose = form.getAttribute("data-passkey");
    var button = form.querySelector("#passkey-button");
    var autofill = null;
    form.hidden = false;
    // Not again after a refusal: the page would sign in, fail and reload in a loop with
    // an authenticator that answers by itself.
    var refused = document.getElementById("login-error");
    if (purpose === "sign_in" && !refused && PKC.isConditionalMediationAvailable) {
      // The username field offers the browser's passkeys (autocomplete "webauthn").
      PKC.isConditionalMediationAvailable().then(function (ok) {
        if (!ok) { return; }
        autofill = new AbortController();
        get(form, "autofill", "conditional", autofill.signal).catch(function () {});
      });
    }
    button.addEventListener("click", function () {
      if (autofill) { autofill.abort(); autofill = null; }
      button.disabled = true;
      get(form, purpose, null, null).catch(function () {
        fail(form, "No passkey was used. Try again, or use your password.");
      }).then(function () { button.disabled = false; });
    });
  });

  // Creating a passkey: the options came with the page.
  document.querySelectorAll("form[data-passkey-create]").forEach(function (form) {
    var button = form.querySelector("#passkey-button");
    button.hidden = false;
    button.addEventListener("click", function () {
      var o = JSON.parse(form.getAttribute("data-options"));
      button.disabled = true;
      navigator.credentials.create({ publicKey: PKC.parseCreationOptionsFromJSON(o.publicKey) })
        .then(function (c) { finish(form, form.querySelector("[data-role=ceremony]").value, c); })
        .catch(function () {
          button.disabled = false;
          fail(form, "The passkey was not created. Try again.");
        });
    });
  });

  // The security page: adding a passkey needs this script, so the form shows with it.
  document.querySelectorAll("form[data-passkey-add]").forEach(function (form) {
    form.hidden = false;
    var note = document.getElementById("passkey-unsupported");
    if (note) { note.hidden = true; }
  });
})();
