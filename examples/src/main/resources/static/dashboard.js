// Polls GET /api/system-health every 2 s and charts the last 5 minutes.
(function () {
  'use strict';
  var KEEP = 150, series = { score: [], queued: [], active: [], errors: [] }, breakerHistory = {};

  function num(v) { return typeof v === 'number' && isFinite(v) ? v : 0; }

  // Reads the health report (score, status, components with figures, recommendations) into the
  // figures the charts show.
  function extract(h) {
    var f = { score: num(h.score), status: h.status || '', queued: 0, active: 0, errorRate: 0,
      breakers: {}, recommendations: h.recommendations || [] };
    var calls = 0, failed = 0;
    (h.components || []).forEach(function (c) {
      var fig = c.figures || {}, name = c.name || '';
      if (name.indexOf('queue:') === 0) {
        f.queued += num(fig.queued); f.active += num(fig.active);
      }
      if (fig.breakerState) {
        f.breakers[name.replace(/^(outbound|breaker):/, '')] = String(fig.breakerState).toLowerCase();
      }
      if (name === 'errors') {
        Object.keys(fig).forEach(function (k) {
          var m = /^(.*)\.calls$/.exec(k);
          if (m && m[1] === 'api') {
            calls = num(fig[k]);
            failed = calls * num(fig[m[1] + '.errorRatePercent']) / 100;
          }
        });
      }
    });
    f.errorRate = calls ? failed / calls : 0;
    return f;
  }

  function push(arr, v) { arr.push(v); if (arr.length > KEEP) arr.shift(); }

  function render(f) {
    push(series.score, f.score); push(series.queued, f.queued);
    push(series.active, f.active); push(series.errors, f.errorRate * 100);
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
    SluiceCharts.line(document.getElementById('chart-score'), series.score, { max: 100, color: '#1d8a4e', threshold: 85 });
    SluiceCharts.line(document.getElementById('chart-queued'), series.queued, { threshold: 50 });
    SluiceCharts.line(document.getElementById('chart-active'), series.active, { max: 20 });
    SluiceCharts.line(document.getElementById('chart-errors'), series.errors, { max: 100, color: '#c53030', threshold: 5 });
    SluiceCharts.states(document.getElementById('chart-breakers'), breakerHistory);
    document.getElementById('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
    document.body.setAttribute('data-polls', String(series.score.length));
  }

  // The admin token unlocks the per-component figures; it arrives once in the URL fragment
  // (#admin=..., never sent to the server) and is kept for this tab only.
  var m = /[#&]admin=([^&]+)/.exec(location.hash);
  if (m) {
    sessionStorage.setItem('sluice-admin', decodeURIComponent(m[1]));
    window.history.replaceState(null, '', location.pathname);
  }
  document.getElementById('token-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    sessionStorage.setItem('sluice-admin', document.getElementById('token').value.trim());
    poll();
  });

  async function poll() {
    var headers = { Accept: 'application/json' };
    var admin = sessionStorage.getItem('sluice-admin');
    if (admin) headers.Authorization = 'Bearer ' + admin;
    document.getElementById('token-form').style.display = admin ? 'none' : '';
    try {
      var res = await fetch('/api/system-health', { headers: headers });
      var body = await res.json();
      render(extract(body));
    } catch (e) {
      document.getElementById('updated').textContent = 'health endpoint unreachable';
    }
  }
  poll();
  setInterval(poll, 2000);
})();
