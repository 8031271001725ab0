/* Customer portal and sign-in pages: small progressive enhancements. Everything works without it.
 * No inline handlers (the CSP forbids them): behaviour is attached here by data attributes. */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // Times are shown in the reader's zone: people without a saved zone get the browser's (cookie hd_tz).
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && document.cookie.indexOf("hd_tz=" + encodeURIComponent(zone)) === -1) {
      document.cookie = "hd_tz=" + encodeURIComponent(zone) + "; path=/; max-age=31536000; SameSite=Lax";
    }
  } catch (error) { /* no Intl: times stay in UTC */ }

  // <select data-portal-autosubmit>: submit the form as soon as a choice is made.
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches && target.matches("select[data-portal-autosubmit]") && target.form) {
      target.form.submit();
    }
  });

  // <input type=file data-portal-max-bytes>: say which files are too large before uploading them.
  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches("input[type=file][data-portal-max-bytes]")) return;
    var limit = parseInt(input.getAttribute("data-portal-max-bytes"), 10);
    var message = input.getAttribute("data-portal-too-large") || "";
    var list = input.closest("form").querySelector("[data-portal-file-errors]");
    var tooLarge = Array.prototype.filter.call(input.files || [], function (file) { return file.size > limit; });
    if (list) {
      list.textContent = "";
      tooLarge.forEach(function (file) {
        var item = document.createElement("li");
        item.textContent = file.name + " " + message; // textContent: a file name is never HTML
        list.appendChild(item);
      });
    }
    input.setCustomValidity(tooLarge.length ? (tooLarge[0].name + " " + message) : "");
  });

  // <form data-portal-once>: one click sends once (no duplicate replies or requests).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("form[data-portal-once]")) return;
    var tooLarge = form.querySelector("input[type=file][data-portal-max-bytes]");
    if (tooLarge && tooLarge.validationMessage) {
      event.preventDefault();
      return;
    }
    if (form.dataset.portalSubmitted) {
      event.preventDefault();
      return;
    }
    form.dataset.portalSubmitted = "1";
    Array.prototype.forEach.call(form.querySelectorAll("button[type=submit]"), function (button) {
      button.setAttribute("aria-disabled", "true");
    });
  });

  // Back/forward cache restores a page with the form still marked as sent.
  window.addEventListener("pageshow", function () {
    Array.prototype.forEach.call(document.querySelectorAll("form[data-portal-submitted]"), function (form) {
      delete form.dataset.portalSubmitted;
      Array.prototype.forEach.call(form.querySelectorAll("button[aria-disabled]"), function (button) {
        button.removeAttribute("aria-disabled");
      });
    });
  });
})();
