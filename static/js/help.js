// Help center: report which search result a reader opened (search analytics' click-through).
// The page works without this script; it only adds the report.
(function () {
  "use strict";
  var results = document.querySelector(".help-results[data-query-id]");
  if (!results || !results.dataset.queryId) {
    return;
  }
  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }
  results.addEventListener("click", function (event) {
    var link = event.target.closest("a[data-translation-id]");
    if (!link) {
      return;
    }
    var body = JSON.stringify({
      query_id: Number(results.dataset.queryId),
      translation_id: Number(link.dataset.translationId),
      rank: Number(link.dataset.rank),
    });
    // keepalive lets the request finish while the browser follows the link.
    fetch(results.dataset.clickUrl, {
      method: "POST",
      keepalive: true,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: body,
    }).catch(function () {});
  });
})();
