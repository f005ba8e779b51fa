// The report pages' pictures: the campaign report's charts (Chart.js, from the JSON the page
// embeds in #report-data) and the portfolio's sparklines (plain canvas). Every figure is on
// the page as text as well, so without this script nothing is lost but the pictures.
(() => {
  "use strict";

  const PALETTE = ["#0d6efd", "#198754", "#fd7e14", "#6f42c1", "#dc3545", "#20c997", "#6c757d", "#ffc107"];
  const BLUE = PALETTE[0];
  const GREEN = PALETTE[1];
  const ORANGE = PALETTE[2];

  const words = (key) => String(key).replaceAll("_", " ");

  function money(value, currency) {
    if (value === null || value === undefined) return "–";
    const amount = Number(value).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
    return currency ? `${currency} ${amount}` : amount;
  }

  function bars(labels, datasets, extra = {}) {
    return {
      type: "bar",
      data: { labels, datasets },
      options: {
        plugins: { legend: { display: datasets.length > 1 } },
        scales: { x: { ticks: { autoSkip: true } }, y: { beginAtZero: true, ticks: { precision: 0 } } },
        ...extra,
      },
    };
  }

  function doughnut(mapping) {
    const labels = Object.keys(mapping).map(words);
    return {
      type: "doughnut",
      data: {
        labels,
        datasets: [{ data: Object.values(mapping), backgroundColor: PALETTE.slice(0, labels.length) }],
      },
      options: { plugins: { legend: { position: "right" } } },
    };
  }

  // One config per data-chart name; each reads the report dict the API also answers.
  const CHARTS = {
    funnel: (report) =>
      bars(
        ["Prospects", "Contacted", "Replied", "Linked"],
        [
          {
            label: "Prospects",
            data: ["total", "contacted", "replied", "linked"].map((key) => report.funnel[key]),
            backgroundColor: [PALETTE[6], BLUE, PALETTE[3], GREEN],
          },
        ],
        {
          indexAxis: "y",
          scales: { x: { beginAtZero: true, ticks: { precision: 0 } } },
        },
      ),
    link_types: (report) =>
      bars(Object.keys(report.links_by_type).map(words), [
        { label: "Live links", data: Object.values(report.links_by_type), backgroundColor: BLUE },
      ]),
    rel_mix: (report) => doughnut(report.rel_mix),
    anchor_mix: (report) => doughnut(report.anchor_mix),
    links_per_week: (report) =>
      bars(
        report.over_time.map((week) => week.week),
        [{ label: "Links gone live", data: report.over_time.map((week) => week.links_live), backgroundColor: GREEN }],
      ),
    emails_per_week: (report) =>
      bars(
        report.over_time.map((week) => week.week),
        [
          { label: "Emails sent", data: report.over_time.map((week) => week.emails_sent), backgroundColor: BLUE },
          { label: "Replies", data: report.over_time.map((week) => week.replies), backgroundColor: ORANGE },
        ],
      ),
    cost_value: (report) => ({
      type: "line",
      data: {
        labels: report.over_time.map((week) => week.week),
        datasets: [
          {
            label: "Cost to date",
            data: report.over_time.map((week) => week.cumulative_cost),
            borderColor: PALETTE[4],
            backgroundColor: PALETTE[4],
            pointRadius: 0,
          },
          {
            label: "Value to date",
            data: report.over_time.map((week) => week.cumulative_value),
            borderColor: GREEN,
            backgroundColor: GREEN,
            pointRadius: 0,
          },
        ],
      },
      options: {
        interaction: { mode: "index", intersect: false },
        plugins: {
          tooltip: {
            callbacks: { label: (item) => `${item.dataset.label}: ${money(item.parsed.y, report.currency)}` },
          },
        },
        scales: { y: { beginAtZero: true, title: { display: true, text: report.currency } } },
      },
    }),
  };

  function drawReport() {
    const source = document.getElementById("report-data");
    if (!source || typeof window.Chart === "undefined") return;
    const report = JSON.parse(source.textContent);
    const Chart = window.Chart;
    // No animation: the figures are there at once, and a page printed right away is complete.
    Chart.defaults.animation = false;
    Chart.defaults.responsive = true;
    Chart.defaults.maintainAspectRatio = false;
    for (const canvas of document.querySelectorAll("canvas[data-chart]")) {
      const build = CHARTS[canvas.dataset.chart];
      if (!build) continue;
      const box = canvas.closest("[data-chart-box]");
      if (box) box.hidden = false;
      new Chart(canvas, build(report));
      canvas.dataset.chartReady = "true";
    }
  }

  // A tiny line of the weekly counts, scaled to the largest; a flat line when all are zero.
  function drawSparkline(canvas) {
    let values;
    try {
      values = JSON.parse(canvas.dataset.sparkline);
    } catch {
      return;
    }
    if (!Array.isArray(values) || values.length === 0) return;
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.width;
    const height = canvas.height;
    canvas.style.width = `${width}px`;
    canvas.style.height = `${height}px`;
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    const context = canvas.getContext("2d");
    context.scale(ratio, ratio);
    const top = Math.max(...values, 1);
    const pad = 2;
    const step = values.length > 1 ? (width - 2 * pad) / (values.length - 1) : 0;
    const y = (value) => height - pad - (value / top) * (height - 2 * pad);
    context.strokeStyle = BLUE;
    context.lineWidth = 1.5;
    context.beginPath();
    values.forEach((value, index) => {
      const x = pad + index * step;
      if (index === 0) context.moveTo(x, y(value));
      else context.lineTo(x, y(value));
    });
    context.stroke();
    context.fillStyle = BLUE;
    context.beginPath();
    context.arc(pad + (values.length - 1) * step, y(values[values.length - 1]), 2, 0, 2 * Math.PI);
    context.fill();
    canvas.dataset.chartReady = "true";
  }

  function start() {
    drawReport();
    for (const canvas of document.querySelectorAll("canvas[data-sparkline]")) drawSparkline(canvas);
    for (const button of document.querySelectorAll("[data-print]")) {
      button.hidden = false;
      button.addEventListener("click", () => window.print());
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
