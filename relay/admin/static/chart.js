// A line chart on a canvas, drawn from scratch: the dashboard loads nothing
// from the internet, and a few dozen lines cover what it needs.
"use strict";

// drawChart draws series (each {label, color, dash, width, points: [[t, v], ...]})
// over the time window [t0, t1] (ms since the epoch). A horizontal reference line
// (e.g. the tick period) is drawn at opts.refValue with opts.refLabel.
function drawChart(canvas, series, t0, t1, opts) {
  const dpr = window.devicePixelRatio || 1;
  const cssW = canvas.clientWidth, cssH = canvas.clientHeight;
  if (canvas.width !== Math.round(cssW * dpr) || canvas.height !== Math.round(cssH * dpr)) {
    canvas.width = Math.round(cssW * dpr);
    canvas.height = Math.round(cssH * dpr);
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, cssW, cssH);

  const pad = {l: 44, r: 10, t: 8, b: 20};
  const w = cssW - pad.l - pad.r, h = cssH - pad.t - pad.b;

  let max = 0;
  for (const s of series) for (const p of s.points) if (p[0] >= t0 && p[1] > max) max = p[1];
  if (opts.refValue && opts.refValue * 1.1 > max && opts.refValue < max * 4) max = opts.refValue * 1.1;
  const step = niceStep(max > 0 ? max / 4 : 0.25);
  const top = Math.max(step, Math.ceil(max / step) * step);
  const x = t => pad.l + (t - t0) / (t1 - t0) * w;
  const y = v => pad.t + h - Math.min(v, top) / top * h;

  // Grid and value labels.
  ctx.font = "11px system-ui, sans-serif";
  ctx.fillStyle = "#6b7280";
  ctx.strokeStyle = "#e5e7eb";
  ctx.lineWidth = 1;
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (let v = 0; v <= top + step / 2; v += step) {
    const yy = Math.round(y(v)) + 0.5;
    ctx.beginPath(); ctx.moveTo(pad.l, yy); ctx.lineTo(pad.l + w, yy); ctx.stroke();
    ctx.fillText(formatTick(v), pad.l - 6, yy);
  }
  // Time labels: one a minute, counted back from now.
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  for (let m = 0; t1 - m * 60000 >= t0; m++) {
    const xx = x(t1 - m * 60000);
    ctx.fillText(m === 0 ? "now" : "-" + m + " min", Math.min(Math.max(xx, pad.l + 14), pad.l + w - 14), pad.t + h + 4);
  }

  if (opts.refValue) {
    ctx.save();
    ctx.strokeStyle = "#dc2626";
    ctx.setLineDash([2, 3]);
    const yy = Math.round(y(opts.refValue)) + 0.5;
    ctx.beginPath(); ctx.moveTo(pad.l, yy); ctx.lineTo(pad.l + w, yy); ctx.stroke();
    ctx.fillStyle = "#dc2626";
    ctx.textAlign = "left";
    ctx.textBaseline = "bottom";
    ctx.fillText(opts.refLabel || "", pad.l + 4, yy - 2);
    ctx.restore();
  }

  for (const s of series) {
    ctx.save();
    ctx.strokeStyle = s.color;
    ctx.lineWidth = s.width || 1.5;
    ctx.setLineDash(s.dash || []);
    ctx.beginPath();
    let started = false;
    for (const p of s.points) {
      if (p[0] < t0) continue;
      if (!started) { ctx.moveTo(x(p[0]), y(p[1])); started = true; } else ctx.lineTo(x(p[0]), y(p[1]));
    }
    ctx.stroke();
    ctx.restore();
  }
}

// niceStep rounds a grid step up to 1, 2 or 5 times a power of ten.
function niceStep(raw) {
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

function formatTick(v) {
  return v >= 10 ? v.toFixed(0) : v >= 1 ? v.toFixed(1).replace(/\.0$/, "") : v.toFixed(2).replace(/0+$/, "").replace(/\.$/, "");
}
