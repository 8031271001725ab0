/* The metrics dashboards (/agent/metrics/, /agent/metrics/me/): charts, the period picker and live updates.
 *
 * The server renders every figure; this script draws the charts from the page's JSON
 * (#metrics-chart-data, the "charts" part's #metrics-series-data loaded right after the page, and
 * #metrics-texts: json_script, so no inline script and every word already
 * translated), sends a click on a chart point to the drill-down of that day, and asks the server for
 * the figures again (htmx, the same URL with its filters) when the workers say the rollups changed:
 * `metrics.updated` on the agent socket, which workspace.js hands out as `hd:realtime`. */
(function () {
  "use strict";

  var charts = [];
  var REFRESH_DELAY_MS = 800;
  var refreshTimer = null;

  function readJson(id) {
    var element = document.getElementById(id);
    if (!element) return null;
    try {
      return JSON.parse(element.textContent);
    } catch (error) {
      return null;
    }
  }

  function format(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (match, name) {
      return Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : match;
    });
  }

  /* The same words as metrics.presentation.duration_text. */
  function duration(seconds, words) {
    if (seconds === null || seconds === undefined) return "—";
    var total = Math.round(seconds);
    if (total < 60) return format(words.seconds, { seconds: total });
    var minutes = Math.floor(total / 60);
    if (minutes < 60) return format(words.minutes, { minutes: minutes });
    if (minutes < 24 * 60) return format(words.hours, { hours: Math.floor(minutes / 60), minutes: minutes % 60 });
    return format(words.days, { days: Math.floor(minutes / (24 * 60)), hours: Math.floor((minutes % (24 * 60)) / 60) });
  }

  function percent(value) {
    return value === null || value === undefined ? "—" : (Math.round(value * 10) / 10) + "%";
  }

  /* The drill-down of `metric` with the dashboard's filters, narrowed by `overrides` (e.g. one day). */
  function drilldownUrl(texts, data, metric, overrides) {
    var params = new URLSearchParams();
    Object.keys(data.filters || {}).forEach(function (name) {
      (data.filters[name] || []).forEach(function (value) { params.append(name, value); });
    });
    params.delete("page");
    params.set("metric", metric);
    Object.keys(overrides || {}).forEach(function (name) { params.set(name, overrides[name]); });
    return texts.drilldownUrl + "?" + params.toString();
  }

  function oneDay(day) {
    return { period: "custom", start: day, end: day };
  }

  function tooltipLine(marker, name, value) {
    var line = document.createElement("div");
    line.innerHTML = marker;  // ECharts' colour dot (its own markup)
    line.appendChild(document.createTextNode(" " + name + ": " + value));
    return line.outerHTML;
  }

  function escapeText(text) {
    var span = document.createElement("span");
    span.textContent = text;
    return span.innerHTML;
  }

  function axisTooltip(valueText) {
    return function (items) {
      if (!items.length) return "";
      var html = escapeText(items[0].axisValueLabel || items[0].name);
      items.forEach(function (item) {
        html += tooltipLine(item.marker, escapeText(item.seriesName), escapeText(valueText(item)));
      });
      return html;
    };
  }

  function baseOption(data, texts) {
    return {
      animation: false,
      grid: { left: 48, right: 48, top: 36, bottom: 28 },
      legend: { top: 0, type: "scroll" },
      xAxis: { type: "category", data: data.days },
      tooltip: { trigger: "axis" },
      textStyle: { fontFamily: getComputedStyle(document.body).fontFamily }
    };
  }

  function volumeChart(element, data, texts) {
    var chart = echarts.init(element);
    var option = baseOption(data, texts);
    option.yAxis = { type: "value", name: texts.tickets, minInterval: 1 };
    option.tooltip.formatter = axisTooltip(function (item) { return item.value === null ? "—" : item.value; });
    option.series = data.volume_by_channel.map(function (channel) {
      return {
        type: "bar", stack: "volume", name: channel.label, id: channel.key, emphasis: { focus: "series" },
        data: channel.data.map(function (value) { return value === null ? 0 : value; })
      };
    });
    chart.setOption(option);
    chart.on("click", function (params) {
      var channel = data.volume_by_channel[params.seriesIndex];
      window.location.assign(drilldownUrl(texts, data, "volume", Object.assign(oneDay(data.days[params.dataIndex]), { channel: channel.key })));
    });
    return chart;
  }

  function timesChart(element, data, texts) {
    var chart = echarts.init(element);
    var option = baseOption(data, texts);
    var hours = function (seconds) { return seconds === null ? null : Math.round(seconds / 36) / 100; };
    option.yAxis = { type: "value", name: texts.hours };
    var sources = [data.frt_median, data.resolution_median];
    option.tooltip.formatter = axisTooltip(function (item) {
      return duration(sources[item.seriesIndex][item.dataIndex], texts.durations);
    });
    option.series = [
      { type: "line", name: texts.frt, id: "frt", connectNulls: true, data: data.frt_median.map(hours) },
      { type: "line", name: texts.resolution, id: "resolution", connectNulls: true, data: data.resolution_median.map(hours) }
    ];
    chart.setOption(option);
    chart.on("click", function (params) {
      var metric = params.seriesIndex === 0 ? "frt" : "resolution";
      window.location.assign(drilldownUrl(texts, data, metric, oneDay(data.days[params.dataIndex])));
    });
    return chart;
  }

  function satisfactionChart(element, data, texts) {
    var chart = echarts.init(element);
    var option = baseOption(data, texts);
    option.yAxis = [
      { type: "value", name: texts.csat, min: 0, max: 100, axisLabel: { formatter: "{value}%" } },
      { type: "value", name: texts.nps, min: -100, max: 100 }
    ];
    option.tooltip.formatter = axisTooltip(function (item) {
      if (item.value === null || item.value === undefined) return "—";
      return item.seriesIndex === 0 ? percent(item.value) : Math.round(item.value);
    });
    option.series = [
      { type: "line", name: texts.csat, id: "csat", connectNulls: true,
        data: data.csat.map(function (value) { return value === null ? null : Math.round(value * 1000) / 10; }) },
      { type: "line", name: texts.nps, id: "nps", yAxisIndex: 1, connectNulls: true, data: data.nps }
    ];
    chart.setOption(option);
    chart.on("click", function (params) {
      // The tickets answered that day (an NPS answer without a ticket counts but lists nothing).
      var metric = params.seriesIndex === 0 ? "csat" : "nps";
      window.location.assign(drilldownUrl(texts, data, metric, oneDay(data.days[params.dataIndex])));
    });
    return chart;
  }

  function backlogChart(element, data, texts) {
    var chart = echarts.init(element);
    var option = baseOption(data, texts);
    option.legend = { show: false };
    option.xAxis = { type: "category", data: data.backlog_by_age.map(function (bucket) { return bucket.label; }) };
    option.yAxis = { type: "value", name: texts.tickets, minInterval: 1 };
    option.tooltip.formatter = axisTooltip(function (item) { return item.value; });
    option.series = [{
      type: "bar", name: texts.backlog, id: "backlog",
      data: data.backlog_by_age.map(function (bucket) { return bucket.count; })
    }];
    chart.setOption(option);
    chart.on("click", function () {
      window.location.assign(drilldownUrl(texts, data, "backlog", {}));
    });
    return chart;
  }

  var BUILDERS = { volume: volumeChart, times: timesChart, satisfaction: satisfactionChart, backlog: backlogChart };

  function renderCharts() {
    charts.forEach(function (chart) { chart.dispose(); });
    charts = [];
    if (typeof echarts === "undefined") return;
    // The page's own data (backlog by age, filters) and the trend series of its "charts" part.
    var data = Object.assign({}, readJson("metrics-chart-data"), readJson("metrics-series-data"));
    var texts = readJson("metrics-texts");
    if (!data.filters || !texts) return;
    document.querySelectorAll("[data-chart]").forEach(function (element) {
      var build = BUILDERS[element.dataset.chart];
      var ready = element.dataset.chart === "backlog" ? Boolean(data.backlog_by_age) : Boolean(data.days);
      if (build && ready) {
        var chart = build(element, data, texts);
        element.dataset.chartReady = "true";
        charts.push(chart);
      }
    });
  }

  /* ------------------------------------------------------------ filters */
  function setUpFilters() {
    var form = document.querySelector("[data-metrics-filters]");
    if (!form) return;
    var period = form.querySelector("[data-metrics-period]");
    var dates = form.querySelectorAll("[data-metrics-range] input");
    period.addEventListener("change", function () {
      var custom = period.value === "custom";
      dates.forEach(function (input) { input.disabled = !custom; });
      if (custom) {
        dates[0].focus();
      } else {
        form.requestSubmit();
      }
    });
    dates.forEach(function (input) {
      input.addEventListener("change", function () {
        if (dates[0].value && dates[1].value) form.requestSubmit();
      });
    });
  }

  /* ------------------------------------------------------------ live updates */
  function refresh() {
    var live = document.querySelector("[data-metrics-live]");
    if (live && window.htmx) window.htmx.trigger(live, "metrics-refresh");
  }

  function scheduleRefresh() {
    // The workers send one notice per batch; a burst of batches makes one request.
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(refresh, REFRESH_DELAY_MS);
  }

  document.addEventListener("hd:realtime", function (event) {
    if (event.detail && event.detail.type === "metrics.updated") scheduleRefresh();
  });
  document.addEventListener("hd:socket-open", function (event) {
    // Notices sent while the socket was down are lost: read the figures again.
    if (event.detail && event.detail.reconnected) scheduleRefresh();
  });
  document.body.addEventListener("htmx:afterSwap", function (event) {
    if (event.target && event.target.matches && event.target.matches("[data-metrics-live], [data-metrics-part=charts]")) {
      renderCharts();
    }
  });
  window.addEventListener("resize", function () {
    charts.forEach(function (chart) { chart.resize(); });
  });

  setUpFilters();
  renderCharts();
})();
