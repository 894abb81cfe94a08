// Charts: draws the Plotly figures of [data-figure] containers, after page load and
// after every htmx swap. The figure comes as JSON in the data- attribute and this
// static file draws it: no inline script, so the Content-Security-Policy holds.
// plotly.js (1.5 MB gzipped) is fetched only when a page has a chart, from the URL
// in data-plotly-src (served by the app, cached for a year).
(function () {
  "use strict";

  // Italian for Plotly: month and day names on the axes, 1.234,5 numbers, modebar titles.
  var ITALIAN = {
    moduleType: "locale",
    name: "it",
    dictionary: {
      "Autoscale": "Scala automatica",
      "Box Select": "Selezione rettangolare",
      "Download plot": "Scarica il grafico",
      "Download plot as a png": "Scarica il grafico come PNG",
      "Double-click to zoom back out": "Doppio clic per tornare alla vista iniziale",
      "Lasso Select": "Selezione a lazo",
      "Pan": "Sposta",
      "Produced with Plotly.js": "Realizzato con Plotly.js",
      "Reset axes": "Ripristina gli assi",
      "Snapshot succeeded": "Immagine salvata",
      "Taking snapshot - this may take a few seconds": "Creazione dell'immagine in corso",
      "Zoom": "Zoom",
      "Zoom in": "Ingrandisci",
      "Zoom out": "Riduci",
      "Toggle Spike Lines": "Mostra/nascondi linee guida",
      "Show closest data on hover": "Mostra il dato più vicino",
      "Compare data on hover": "Confronta i dati"
    },
    format: {
      days: ["domenica", "lunedì", "martedì", "mercoledì", "giovedì", "venerdì", "sabato"],
      shortDays: ["dom", "lun", "mar", "mer", "gio", "ven", "sab"],
      months: ["gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio",
               "agosto", "settembre", "ottobre", "novembre", "dicembre"],
      shortMonths: ["gen", "feb", "mar", "apr", "mag", "giu", "lug", "ago", "set", "ott",
                    "nov", "dic"],
      periods: ["AM", "PM"],
      dateTime: "%A %e %B %Y, %X",
      date: "%d/%m/%Y",
      time: "%H:%M:%S",
      decimal: ",",
      thousands: ".",
      grouping: [3],
      currency: ["", " €"],
      year: "%Y",
      month: "%b %Y",
      dayMonth: "%-d %b",
      dayMonthYear: "%-d %b %Y"
    }
  };

  var plotlyLoading = null;

  function loadPlotly(src) {
    if (window.Plotly) {
      return Promise.resolve(window.Plotly);
    }
    if (!plotlyLoading) {
      plotlyLoading = new Promise(function (resolve, reject) {
        var script = document.createElement("script");
        script.src = src;
        script.addEventListener("load", function () {
          window.Plotly.register(ITALIAN);
          resolve(window.Plotly);
        });
        script.addEventListener("error", function () {
          plotlyLoading = null; // the next swap may try again
          script.remove();
          reject(new Error("plotly.js non disponibile"));
        });
        document.head.appendChild(script);
      });
    }
    return plotlyLoading;
  }

  function showMessage(container, text) {
    container.textContent = "";
    var message = document.createElement("p");
    message.className = "chart__message chart__message--error";
    message.textContent = text;
    container.appendChild(message);
  }

  function draw(container, Plotly) {
    if (!container.isConnected) {
      return;
    }
    var figure;
    try {
      figure = JSON.parse(container.getAttribute("data-figure"));
    } catch (error) {
      showMessage(container, "Il grafico non è disponibile: i dati sono nella tabella.");
      return;
    }
    var layout = figure.layout || {};
    var touch = window.matchMedia("(pointer: coarse)").matches;
    if (touch) {
      // On a phone a drag must scroll the page, not zoom the chart.
      layout.dragmode = false;
    }
    if (window.matchMedia("(max-width: 760px)").matches) {
      layout.margin = { l: 48, r: 8, t: 8, b: 36 };
      layout.font = Object.assign({}, layout.font, { size: 12 });
      // Two legend entries a row instead of one under the other.
      layout.legend = Object.assign({}, layout.legend, {
        entrywidthmode: "fraction", entrywidth: 0.5, font: { size: 11 }
      });
    }
    container.textContent = "";
    // No Plotly toolbar: its "Share" button uploads to Plotly's cloud and its buttons
    // would sit inside the image role. The page's own buttons (chart-tools) do the
    // useful part: the PNG and the reset of a zoom.
    Plotly.newPlot(container, figure.data || [], layout, {
      responsive: true,
      displaylogo: false,
      displayModeBar: false,
      showLink: false,
      showSendToCloud: false,
      showEditInChartStudio: false,
      locale: "it"
    }).then(function () {
      container.setAttribute("data-drawn", "true");
      showTools(container, Plotly);
    }, function () {
      showMessage(container, "Il grafico non è disponibile: i dati sono nella tabella.");
    });
  }

  function showTools(container, Plotly) {
    var figureBox = container.closest(".chart-figure");
    var tools = figureBox && figureBox.querySelector(".chart-tools");
    if (!tools) {
      return;
    }
    tools.hidden = false;
    tools.querySelectorAll("[data-chart-action]").forEach(function (button) {
      button.onclick = function () {
        if (button.getAttribute("data-chart-action") === "png") {
          Plotly.downloadImage(container, {
            format: "png", filename: container.getAttribute("data-filename") || "grafico"
          });
        } else {
          var reset = {};
          Object.keys(container.layout || {}).forEach(function (key) {
            if (/^[xy]axis\d*$/.test(key)) {
              reset[key + ".autorange"] = true;
            }
          });
          Plotly.relayout(container, reset);
        }
      };
    });
  }

  function drawCharts(root) {
    if (!root || !root.querySelectorAll) {
      return;
    }
    var containers = Array.prototype.slice.call(root.querySelectorAll("[data-figure]:not([data-drawn])"));
    if (root.matches && root.matches("[data-figure]:not([data-drawn])")) {
      containers.unshift(root);
    }
    if (!containers.length) {
      return;
    }
    containers.forEach(function (container) {
      container.setAttribute("data-drawn", "pending");
    });
    loadPlotly(containers[0].getAttribute("data-plotly-src")).then(function (Plotly) {
      containers.forEach(function (container) {
        draw(container, Plotly);
      });
    }, function () {
      containers.forEach(function (container) {
        container.removeAttribute("data-drawn");
        showMessage(container, "Non è stato possibile caricare il grafico: i dati sono nella tabella.");
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { drawCharts(document); });
  } else {
    drawCharts(document);
  }
  // htmx:load fires for every piece of content htmx adds (including out-of-band
  // swaps); afterSwap covers a swap into the target itself.
  document.addEventListener("htmx:load", function (event) { drawCharts(event.detail.elt); });
  document.addEventListener("htmx:afterSwap", function (event) { drawCharts(event.detail.target); });
  // A chart leaving the page releases Plotly's listeners (the resize one in particular).
  document.addEventListener("htmx:beforeCleanupElement", function (event) {
    var element = event.detail.elt;
    if (window.Plotly && element.classList && element.classList.contains("js-plotly-plot")) {
      window.Plotly.purge(element);
    }
  });
})();
