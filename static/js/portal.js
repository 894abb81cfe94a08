// Area Clienti: small behaviours on top of htmx. No inline scripts anywhere (CSP).
document.documentElement.classList.add("js");

// --- Announcements --------------------------------------------------------------
// One polite live region (#announcer, outside every swapped area) reads out flash
// messages, saves, deletions and form errors. #flash itself is replaced by every
// swap, and a region that is replaced may never be read.
// What is to be said carries data-announce (flash messages, notices), or is a field's
// error (templates/_form.html): said once, when it appears, whichever swap or page
// load brought it.
function announce(text) {
  var region = document.getElementById("announcer");
  text = (text || "").replace(/\s+/g, " ").trim();
  if (!region || !text) return;
  // Emptied first, then filled a moment later: the same words twice are read twice.
  region.textContent = "";
  window.setTimeout(function () { region.textContent = text; }, 100);
}

function announceNew() {
  var texts = [];
  document.querySelectorAll("[data-announce], p.error[id$='-error']").forEach(function (element) {
    if (element.hasAttribute("data-announced")) return;
    texts.push(element.textContent);
    element.setAttribute("data-announced", "");
  });
  announce(texts.join(" "));
}

// --- Focus after a swap -----------------------------------------------------------
// A new page: focus its heading (the screen reader reads where we are) and give the
// tab its title. A swap inside a page that removed the focused element: focus what
// the new content marks with data-focus-after-swap, else the title of the table the
// removed element sat in, so the keyboard goes on from there.
var focusFallback = null;

function focusNewPage(content) {
  var heading = content.querySelector("h1");
  if (heading) {
    heading.setAttribute("tabindex", "-1");
    heading.focus({ preventScroll: true });
    var suffix = document.title.split(" · ").slice(-1)[0];
    document.title = heading.textContent.replace(/\s+/g, " ").trim() + " · " + suffix;
  } else {
    content.focus({ preventScroll: true });
  }
  window.scrollTo({ top: 0 });
}

function focusIsLost() {
  var active = document.activeElement;
  return !active || active === document.body || !active.isConnected;
}

document.addEventListener("htmx:beforeSwap", function (event) {
  var target = event.detail.target;
  var table = target && target.closest && target.closest("table[aria-labelledby]");
  if (table) focusFallback = document.getElementById(table.getAttribute("aria-labelledby"));
});

function restoreLostFocus(target) {
  if (!focusIsLost()) return;
  var marked = document.querySelector("[data-focus-after-swap]");
  // An outerHTML swap (a pager) leaves the old target detached: its successor has its id.
  var swapped = target && (target.isConnected ? target : target.id && document.getElementById(target.id));
  var next = marked || (focusFallback && focusFallback.isConnected ? focusFallback : null) ||
             swapped || null;
  if (marked) marked.removeAttribute("data-focus-after-swap");
  if (!next) return;
  if (!next.hasAttribute("tabindex") && !next.matches("a[href], button, input, select, textarea")) {
    next.setAttribute("tabindex", "-1");
  }
  next.focus();
  focusFallback = null;
}

document.addEventListener("htmx:afterSettle", function (event) {
  var target = event.detail.target;
  settle();
  if (target && target.id === "content") {
    focusNewPage(target);
    focusFallback = null;
  } else {
    restoreLostFocus(target);
  }
  announceNew();
});
// A swap that leaves nothing behind (a deleted row) has no settle event of its own.
document.addEventListener("htmx:afterRequest", function (event) {
  window.setTimeout(restoreLostFocus, 50);
  // A list's form still on the page (a filter outside the swap, or a failed request)
  // takes the next choice again.
  if (event.detail.elt && event.detail.elt.hasAttribute && event.detail.elt.hasAttribute("data-submitted")) {
    event.detail.elt.removeAttribute("data-submitted");
  }
});

// --- Lists that change the page (the supply-point picker, years, rows per page) ---------
// A form marked data-choice-form changes the page only on an explicit choice: a
// pointer's pick at once, the keyboard's on Enter, on the form's button or on leaving
// the list; never on each arrow key (a closed select changes its value with every
// arrow, and each change was a request and a swap).
var choiceByKeyboard = false;

function isChoice(element) {
  return element && element.tagName === "SELECT" && element.form &&
         element.form.hasAttribute("data-choice-form");
}

function choiceChanged(select) {
  var shown = select.getAttribute("data-shown");
  return shown !== null && select.value !== shown;
}

// Once per choice: the old list may still report leaving as htmx replaces it.
function submitChoice(form) {
  if (!form || form.hasAttribute("data-submitted")) return;
  form.setAttribute("data-submitted", "");
  form.requestSubmit();
}

document.addEventListener("keydown", function (event) {
  if (!isChoice(event.target)) return;
  if (event.key === "Enter") {
    event.preventDefault();
    if (choiceChanged(event.target)) submitChoice(event.target.form);
  } else if (event.key !== "Tab" && event.key !== "Shift") {
    choiceByKeyboard = true;
  }
});
document.addEventListener("pointerdown", function () { choiceByKeyboard = false; }, true);
document.addEventListener("change", function (event) {
  if (isChoice(event.target) && !choiceByKeyboard) submitChoice(event.target.form);
});
document.addEventListener("focusout", function (event) {
  var select = event.target;
  if (!isChoice(select) || !select.isConnected || !choiceChanged(select)) return;
  // Tabbing on to the form's own button is the choice itself.
  if (event.relatedTarget && event.relatedTarget.form === select.form) return;
  submitChoice(select.form);
});

function markChoicesShown() {
  document.querySelectorAll("form[data-choice-form] select").forEach(function (select) {
    select.setAttribute("data-shown", select.value);
  });
  choiceByKeyboard = false;
}

// --- The menu on a phone -------------------------------------------------------------
// Behind a button, so the page comes first; open on a wide screen.
var phone = window.matchMedia("(max-width: 760px)");

function setUpMenu() {
  var toggle = document.querySelector("#menu .menu-toggle");
  var entries = document.getElementById("menu-entries");
  if (!toggle || !entries) return;
  toggle.hidden = !phone.matches;
  var open = !phone.matches || toggle.getAttribute("data-open") === "true";
  toggle.setAttribute("aria-expanded", String(open));
  entries.hidden = !open;
}

document.addEventListener("click", function (event) {
  var toggle = event.target.closest && event.target.closest("#menu .menu-toggle");
  if (!toggle) return;
  var open = toggle.getAttribute("aria-expanded") !== "true";
  toggle.setAttribute("data-open", String(open));
  setUpMenu();
});
if (phone.addEventListener) phone.addEventListener("change", setUpMenu);

// --- Tables wider than the screen ------------------------------------------------------
// A table that scrolls sideways becomes a named region the keyboard can reach and
// scroll; one that fits stays out of the tab order.
function tableName(wrap) {
  var table = wrap.querySelector("table");
  if (!table) return "";
  var labelledBy = table.getAttribute("aria-labelledby");
  var title = labelledBy && document.getElementById(labelledBy);
  var caption = table.querySelector("caption");
  return (table.getAttribute("aria-label") || (title && title.textContent) ||
          (caption && caption.textContent) || "").replace(/\s+/g, " ").trim();
}

function markScrollingTables() {
  document.querySelectorAll(".table-wrap").forEach(function (wrap) {
    if (wrap.scrollWidth > wrap.clientWidth + 1) {
      wrap.setAttribute("tabindex", "0");
      wrap.setAttribute("role", "region");
      var name = tableName(wrap);
      wrap.setAttribute("aria-label", (name ? name + ": " : "") + document.body.getAttribute("data-scroll-hint"));
    } else {
      wrap.removeAttribute("tabindex");
      wrap.removeAttribute("role");
      wrap.removeAttribute("aria-label");
    }
  });
}

var resizing = null;
window.addEventListener("resize", function () {
  window.clearTimeout(resizing);
  resizing = window.setTimeout(markScrollingTables, 150);
});

// --- After every page load and swap ------------------------------------------------------
function settle() {
  markChoicesShown();
  setUpMenu();
  markScrollingTables();
}

document.addEventListener("DOMContentLoaded", function () {
  settle();
  announceNew();
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

// A response with nothing to show (a deleted row) sends its news as an event:
// HX-Trigger-After-Settle: {"announce": "..."}.
document.addEventListener("announce", function (event) {
  announce(event.detail && event.detail.value);
});

// --- Copy buttons ("Come pagare") ---------------------------------------------------------
// A button with data-copy-from copies the text of the element with that id, and says
// so (its label for a moment, and the live region). Without JavaScript the buttons are
// hidden and the values are plain text to select.
document.addEventListener("click", function (event) {
  var button = event.target.closest && event.target.closest("[data-copy-from]");
  if (!button) return;
  var source = document.getElementById(button.getAttribute("data-copy-from"));
  if (!source || !navigator.clipboard) return;
  var text = source.textContent.replace(/\s+/g, " ").trim();
  navigator.clipboard.writeText(text).then(function () {
    var label = button.textContent;
    var done = button.getAttribute("data-copied") || label;
    button.textContent = done;
    announce(done + ": " + text);
    window.setTimeout(function () { button.textContent = label; }, 2000);
  });
});
