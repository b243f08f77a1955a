// Polls GET /api/system-health every 2 s and charts the last 5 minutes.
(function () {
  'use strict';
  var KEEP = 150, history = { score: [], queued: [], active: [], errors: [] }, breakerHistory = {};

  function num(v) { return typeof v === 'number' && isFinite(v) ? v : 0; }

  // Reads the health document into the figures the charts show.
  function extract(h) {
    var q = h.queue || {};
    var breakers = {};
    var b = h.breakers || {};
    if (Array.isArray(b)) b.forEach(function (x) { breakers[x.name] = x.state; });
    else Object.keys(b).forEach(function (k) { breakers[k] = typeof b[k] === 'string' ? b[k] : b[k].state; });
    Object.keys(breakers).forEach(function (k) {
      breakers[k] = String(breakers[k]).toLowerCase();
    });
    return {
      score: num(h.score), status: h.status || '', queued: num(q.queued), active: num(q.active),
      errorRate: num(h.errorRate), breakers: breakers, recommendations: h.recommendations || []
    };
  }

  function push(arr, v) { arr.push(v); if (arr.length > KEEP) arr.shift(); }

  function render(f) {
    push(history.score, f.score); push(history.queued, f.queued);
    push(history.active, f.active); push(history.errors, f.errorRate * 100);
    Object.keys(f.breakers).forEach(function (k) {
      breakerHistory[k] = breakerHistory[k] || [];
      push(breakerHistory[k], f.breakers[k]);
    });
    document.getElementById('score-now').textContent = f.score.toFixed(0) + ' %';
    document.getElementById('queued-now').textContent = f.queued;
    document.getElementById('active-now').textContent = f.active;
    document.getElementById('errors-now').textContent = (f.errorRate * 100).toFixed(1) + ' %';
    document.getElementById('status').textContent = f.status;
    var recs = document.getElementById('recs'); recs.innerHTML = '';
    f.recommendations.forEach(function (r) {
      var li = document.createElement('li'); li.textContent = typeof r === 'string' ? r : JSON.stringify(r);
      recs.appendChild(li);
    });
    var badges = document.getElementById('breakers'); badges.innerHTML = '';
    Object.keys(f.breakers).forEach(function (k) {
      var s = document.createElement('span');
      s.className = 'state-' + f.breakers[k]; s.textContent = k + ': ' + f.breakers[k];
      badges.appendChild(s);
    });
    SluiceCharts.line(document.getElementById('chart-score'), history.score, { max: 100, color: '#1d8a4e', threshold: 85 });
    SluiceCharts.line(document.getElementById('chart-queued'), history.queued, { threshold: 50 });
    SluiceCharts.line(document.getElementById('chart-active'), history.active, { max: 20 });
    SluiceCharts.line(document.getElementById('chart-errors'), history.errors, { max: 100, color: '#c53030', threshold: 5 });
    SluiceCharts.states(document.getElementById('chart-breakers'), breakerHistory);
    document.getElementById('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
    document.body.setAttribute('data-polls', String(history.score.length));
  }

  async function poll() {
    try {
      var res = await fetch('/api/system-health', { headers: { Accept: 'application/json' } });
      var body = await res.json();
      render(extract(body));
    } catch (e) {
      document.getElementById('updated').textContent = 'health endpoint unreachable';
    }
  }
  poll();
  setInterval(poll, 2000);
})();
