// A tiny line and state-timeline chart on <canvas>: the dashboard's only chart code, served by
// the app (no CDN, no third-party library).
(function (global) {
  'use strict';

  function setup(canvas) {
    var ratio = global.devicePixelRatio || 1;
    var w = canvas.clientWidth || canvas.width, h = canvas.clientHeight || canvas.height;
    if (canvas.width !== Math.round(w * ratio)) {
      canvas.width = Math.round(w * ratio); canvas.height = Math.round(h * ratio);
    }
    var ctx = canvas.getContext('2d');
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, w, h);
    ctx.font = '11px system-ui, sans-serif';
    return { ctx: ctx, w: w, h: h };
  }

  // values: numbers (oldest first); opts: {max, color, threshold}
  function line(canvas, values, opts) {
    var c = setup(canvas), ctx = c.ctx, pad = 28;
    var max = opts.max;
    if (max === undefined) {
      max = 1;
      values.forEach(function (v) { if (v > max) max = v; });
      max = Math.ceil(max * 1.2);
    }
    ctx.strokeStyle = '#e3e7ef'; ctx.fillStyle = '#5b6478'; ctx.lineWidth = 1;
    for (var i = 0; i <= 2; i++) {
      var y = 6 + (c.h - 18) * i / 2;
      ctx.beginPath(); ctx.moveTo(pad, y); ctx.lineTo(c.w - 4, y); ctx.stroke();
      ctx.fillText(String(Math.round(max * (2 - i) / 2)), 2, y + 4);
    }
    if (opts.threshold !== undefined) {
      var ty = 6 + (c.h - 18) * (1 - opts.threshold / max);
      ctx.strokeStyle = '#c53030'; ctx.setLineDash([4, 4]);
      ctx.beginPath(); ctx.moveTo(pad, ty); ctx.lineTo(c.w - 4, ty); ctx.stroke();
      ctx.setLineDash([]);
    }
    if (!values.length) return;
    ctx.strokeStyle = opts.color || '#2458d3'; ctx.lineWidth = 2; ctx.beginPath();
    var n = Math.max(values.length - 1, 1);
    values.forEach(function (v, i) {
      var x = pad + (c.w - pad - 4) * i / n;
      var y = 6 + (c.h - 18) * (1 - Math.min(v, max) / max);
      if (i) ctx.lineTo(x, y); else ctx.moveTo(x, y);
    });
    ctx.stroke();
    canvas.setAttribute('data-points', String(values.length));
  }

  // rows: {name: [state, ...]} with states closed | half_open | open
  function states(canvas, rows) {
    var c = setup(canvas), ctx = c.ctx, names = Object.keys(rows), left = 90;
    var colors = { closed: '#1d8a4e', half_open: '#b7791f', open: '#c53030' };
    var rowH = Math.min(28, (c.h - 8) / Math.max(names.length, 1));
    names.forEach(function (name, r) {
      var y = 4 + r * rowH, seq = rows[name], n = Math.max(seq.length, 1);
      ctx.fillStyle = '#1d2433'; ctx.fillText(name, 2, y + rowH / 2 + 4);
      seq.forEach(function (s, i) {
        ctx.fillStyle = colors[s] || '#999';
        var x0 = left + (c.w - left - 4) * i / n, x1 = left + (c.w - left - 4) * (i + 1) / n;
        ctx.fillRect(x0, y + 2, Math.max(1, x1 - x0), rowH - 6);
      });
    });
    canvas.setAttribute('data-points', String(names.length ? rows[names[0]].length : 0));
  }

  global.SluiceCharts = { line: line, states: states };
})(window);
