// Area Clienti: small behaviours on top of htmx. No inline scripts anywhere (CSP).
document.documentElement.classList.add("js");

document.addEventListener("htmx:afterSwap", function (event) {
  // After a page swap, move focus to the new content for keyboard and screen readers.
  if (event.detail.target && event.detail.target.id === "content") {
    event.detail.target.focus({ preventScroll: true });
    window.scrollTo({ top: 0 });
  }
});

// Every history entry names its supply point: Back then shows the point that page had,
// while the session only remembers the latest choice.
function recordSupplyPoint() {
  var select = document.getElementById("punto");
  if (!select || select.disabled || !select.value) return;
  var url = new URL(window.location.href);
  if (url.searchParams.get("punto") === select.value) return;
  url.searchParams.set("punto", select.value);
  history.replaceState(history.state, "", url);
}
document.addEventListener("DOMContentLoaded", recordSupplyPoint);
document.addEventListener("htmx:afterSettle", recordSupplyPoint);
