/* The customer 360 pages: draw the health trend (#health-trend-data, the daily scores of the last
 * 90 days with today's last) with ECharts, loaded by the page like the metrics dashboard does.
 * The words come from #health-texts (json_script, already translated): no inline script. */
(function () {
  "use strict";

  function readJson(id) {
    var element = document.getElementById(id);
    if (!element) return null;
    try {
      return JSON.parse(element.textContent);
    } catch (error) {
      return null;
    }
  }

  function draw() {
    var element = document.getElementById("health-trend");
    var points = readJson("health-trend-data") || [];
    var texts = readJson("health-texts") || {};
    if (!element) return;
    if (points.length < 2 || typeof window.echarts === "undefined") {
      // One point is today's score, already shown above: say there is no history instead.
      element.classList.add("muted", "small");
      element.style.height = "auto";
      element.textContent = points.length < 2 ? (texts.empty || "") : "";
      return;
    }
    var chart = window.echarts.init(element);
    chart.setOption({
      grid: { left: 32, right: 12, top: 12, bottom: 24 },
      tooltip: { trigger: "axis" },
      xAxis: { type: "category", data: points.map(function (p) { return p.day; }) },
      yAxis: { type: "value", min: 0, max: 100 },
      series: [{ name: texts.score || "", type: "line", smooth: true, showSymbol: points.length < 20,
                 data: points.map(function (p) { return p.score; }), areaStyle: { opacity: 0.15 } }]
    });
    window.addEventListener("resize", function () { chart.resize(); });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
