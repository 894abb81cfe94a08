// Area Clienti: small behaviours on top of htmx. No inline scripts anywhere (CSP).
document.documentElement.classList.add("js");

document.addEventListener("htmx:afterSwap", function (event) {
  // After a page swap, move focus to the new content for keyboard and screen readers.
  if (event.detail.target && event.detail.target.id === "content") {
    event.detail.target.focus({ preventScroll: true });
    window.scrollTo({ top: 0 });
  }
});
