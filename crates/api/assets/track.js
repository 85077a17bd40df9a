// Herald's browser tracker, served at /assets/track.js.
//
// It keeps the public API of Customer.io's classic snippet: a global `_cio` that is an array of
// queued calls until this script loads, then an object with identify, track, page and reset.
// The script tag names the workspace with `data-site-id`; `data-base-url` names the Herald
// server when the script is served from elsewhere, `data-auto-track-page="false"` turns off the
// page view sent on load, and `data-cookie-domain` shares the cookies across subdomains.
//
// Herald serves this file with every line trimmed and the lines that start with `//` removed,
// so comments must stay on lines of their own and no string may span lines.
//
// Every call becomes an item in a queue that is kept in localStorage until the server
// acknowledged it, so that nothing is lost while offline, when the page closes, or when a
// request fails. Events carry a ULID, which the server deduplicates, so an item that was sent
// twice (a beacon at page hide, then the same item again from the next page) counts once.
(function (w, d) {
  'use strict';
  var old = w._cio;
  // The snippet was pasted twice: the first copy already runs.
  if (old && old.herald) {
    return;
  }
  var api = old && typeof old.push === 'function' ? old : [];
  var script = d.currentScript || d.getElementById('cio-tracker');
  var attr = function (name) {
    return script ? script.getAttribute('data-' + name) : null;
  };
  var siteId = attr('site-id');
  var src = script && script.src ? script.src : '';
  var base = attr('base-url') || (src.indexOf('/assets/') > 0 ? src.split('/assets/')[0] : location.origin);
  base = base.replace(/\/+$/, '') + '/api/v1/browser/' + encodeURIComponent(siteId || '') + '/';
  var namespace = (old && old.cookieNamespace) || '_cio';
  var cookieDomain = attr('cookie-domain');
  var YEAR = 31536000;
  var STALE_MS = 3600000;
  var MAX_QUEUED = 1000;
  var PREFIX = '_cio_q.';
  var TEXT = 'text/plain;charset=UTF-8';
  var warn = function (message) {
    if (w.console && console.warn) {
      console.warn('[herald] ' + message);
    }
  };

  // Cookies hold who the visitor is, so every tab of the site shares one session.
  var getCookie = function (name) {
    var parts = d.cookie ? d.cookie.split('; ') : [];
    for (var i = 0; i < parts.length; i++) {
      var eq = parts[i].indexOf('=');
      if (parts[i].slice(0, eq) === name) {
        try {
          return decodeURIComponent(parts[i].slice(eq + 1));
        } catch (e) {
          return null;
        }
      }
    }
    return null;
  };
  var setCookie = function (name, value, maxAge) {
    d.cookie = name + '=' + encodeURIComponent(value) + '; path=/; max-age=' + maxAge + '; samesite=lax' +
      (cookieDomain ? '; domain=' + cookieDomain : '') + (location.protocol === 'https:' ? '; secure' : '');
  };

  var random = function (n) {
    var bytes = new Uint8Array(n);
    w.crypto.getRandomValues(bytes);
    return bytes;
  };
  // A version 4 UUID. crypto.randomUUID exists only in secure contexts, getRandomValues always.
  var uuid = function () {
    var b = random(16), h = '';
    b[6] = (b[6] & 15) | 64;
    b[8] = (b[8] & 63) | 128;
    for (var i = 0; i < 16; i++) {
      h += (b[i] + 256).toString(16).slice(1) + (i === 3 || i === 5 || i === 7 || i === 9 ? '-' : '');
    }
    return h;
  };
  // A ULID: 48 bits of milliseconds, then 80 random bits, in Crockford's base 32.
  var B32 = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
  var ulid = function () {
    var t = Date.now(), s = '', i, b = random(16);
    for (i = 0; i < 10; i++) {
      s = B32.charAt(t % 32) + s;
      t = Math.floor(t / 32);
    }
    for (i = 0; i < 16; i++) {
      s += B32.charAt(b[i] & 31);
    }
    return s;
  };

  // Kept in memory too, so a browser that refuses cookies still sends one anonymous id per page.
  var memoryAnonymousId = null;
  var anonymousId = function () {
    var id = getCookie(namespace + 'anonid') || memoryAnonymousId;
    if (!id) {
      id = uuid();
      setCookie(namespace + 'anonid', id, YEAR);
    }
    memoryAnonymousId = id;
    return id;
  };

  // The queue of this tab, saved under a key of its own: tabs never write each other's keys,
  // so no tab can overwrite what another one queued.
  var storage = null;
  try {
    storage = w.localStorage;
    storage.getItem(PREFIX);
  } catch (e) {
    storage = null;
  }
  var session = function (value) {
    try {
      if (value) {
        sessionStorage.setItem('_cio_tab', value);
      }
      return sessionStorage.getItem('_cio_tab');
    } catch (e) {
      return null;
    }
  };
  var read = function (key) {
    try {
      return JSON.parse(storage.getItem(key));
    } catch (e) {
      return null;
    }
  };
  var queue = [];
  var closed = false;
  var save = function () {
    if (!storage) {
      return;
    }
    try {
      if (queue.length) {
        storage.setItem(PREFIX + tab, JSON.stringify({ t: Date.now(), c: closed ? 1 : 0, q: queue }));
      } else {
        storage.removeItem(PREFIX + tab);
      }
    } catch (e) {
      // A full or disabled storage keeps the queue in memory only.
    }
  };

  // sessionStorage survives navigation within a tab, so the next page of the tab takes over
  // the queue its previous page closed. A queue under our id that is not closed belongs to a
  // live tab that was duplicated with its sessionStorage: this tab then takes a new id.
  var tab = session();
  var mine = tab && storage ? read(PREFIX + tab) : null;
  if (!tab || (mine && !mine.c)) {
    tab = session(uuid()) || uuid();
    mine = null;
  }
  if (mine && mine.q) {
    queue = mine.q;
    save();
  }

  // Queues of closed tabs (or of tabs gone for an hour without a word) are sent by a live tab.
  var adopt = function (key) {
    var other = key && key.indexOf(PREFIX) === 0 && key !== PREFIX + tab ? read(key) : null;
    if (other && (other.c || Date.now() - other.t > STALE_MS)) {
      storage.removeItem(key);
      queue = queue.concat(other.q || []);
      save();
      flush();
    }
  };
  var adoptAll = function () {
    var keys = [];
    for (var i = 0; storage && i < storage.length; i++) {
      keys.push(storage.key(i));
    }
    for (i = 0; i < keys.length; i++) {
      adopt(keys[i]);
    }
  };

  // Each item keeps the URL of the site it was made for, so a queue adopted by a page of
  // another workspace on the same origin still goes to its own.
  var url = function (item) {
    return item.u || base + item.k;
  };
  // `age` tells the server how long ago the call happened, so a queued event keeps its time
  // without trusting the browser's clock.
  var body = function (item) {
    var b = item.b;
    if (item.k === 'events') {
      b.age = Math.max(0, Math.round((Date.now() - item.t) / 1000));
    }
    return JSON.stringify(b);
  };
  // A page stuck offline for long keeps its newest calls rather than fill the storage.
  var enqueue = function (kind, payload) {
    if (!siteId) {
      return;
    }
    if (queue.length >= MAX_QUEUED) {
      queue.shift();
      warn('more than ' + MAX_QUEUED + ' calls wait to be sent: the oldest is dropped');
    }
    queue.push({ k: kind, u: base + kind, b: payload, t: Date.now() });
    save();
    flush();
  };
  var done = function (item) {
    var at = queue.indexOf(item);
    if (at >= 0) {
      queue.splice(at, 1);
    }
    save();
  };

  // One request at a time, in order. Success and refusals of the input end an item; network
  // failures, 429 and 5xx are retried with exponential backoff (or the server's Retry-After).
  var sending = false;
  var attempt = 0;
  var timer = null;
  var retry = function (seconds) {
    attempt++;
    var delay = Math.min(60000, 1000 * Math.pow(2, attempt - 1)) * (0.5 + Math.random() / 2);
    timer = setTimeout(function () {
      timer = null;
      flush();
    }, Math.max(delay, (seconds || 0) * 1000));
  };
  function flush() {
    if (sending || !queue.length || timer || navigator.onLine === false) {
      return;
    }
    sending = true;
    var item = queue[0];
    fetch(url(item), { method: 'POST', body: body(item), credentials: 'omit', headers: { 'Content-Type': TEXT } })
      .then(function (response) {
        var status = response.status;
        if (status < 400 || (status < 500 && status !== 408 && status !== 429)) {
          done(item);
          attempt = 0;
          if (status >= 400) {
            return response.json().then(function (answer) {
              warn('the server refused ' + item.k + ' (' + status + '): ' + ((answer.meta && answer.meta.error) || ''));
            }, function () {});
          }
        } else {
          retry(parseInt(response.headers.get('Retry-After'), 10));
        }
      }, function () {
        retry(0);
      })
      .then(function () {
        sending = false;
        flush();
      });
  }
  var wake = function () {
    clearTimeout(timer);
    timer = null;
    attempt = 0;
    flush();
  };

  var event = function (type, name, data) {
    var person = getCookie(namespace + 'id');
    var payload = { name: name, type: type, id: ulid(), data: data ? JSON.parse(JSON.stringify(data)) : {} };
    if (person) {
      payload.customer_id = person;
    } else {
      payload.anonymous_id = anonymousId();
    }
    enqueue('events', payload);
  };

  var methods = {
    identify: function (attributes) {
      if (!attributes || attributes.id === undefined || attributes.id === null || attributes.id === '') {
        warn('_cio.identify needs an object with an id');
        return;
      }
      var payload = JSON.parse(JSON.stringify(attributes));
      payload.anonymous_id = anonymousId();
      setCookie(namespace + 'id', String(attributes.id), YEAR);
      enqueue('identify', payload);
    },
    track: function (name, data) {
      event('event', name, data);
    },
    // An event name holds at most 100 bytes: a longer URL is named without its query and kept
    // whole in the event's data.
    page: function (address, data) {
      if (address && typeof address === 'object') {
        data = address;
        address = null;
      }
      var name = address || location.href;
      if (name.length > 100) {
        data = Object.assign({}, data, { url: name });
        name = name.split(/[?#]/)[0].slice(0, 100);
      }
      event('page', name, data);
    },
    reset: function () {
      setCookie(namespace + 'id', '', 0);
      memoryAnonymousId = uuid();
      setCookie(namespace + 'anonid', memoryAnonymousId, YEAR);
    }
  };
  methods.sidentify = methods.identify;

  var call = function (args) {
    var method = methods[args[0]];
    if (method) {
      method.apply(null, Array.prototype.slice.call(args, 1));
    }
  };

  if (!siteId) {
    warn('the script tag has no data-site-id: nothing is sent');
  }
  // The anonymous id exists from the first page on, as with Customer.io's script.
  anonymousId();
  // Calls queued by the snippet before this script loaded run first, in order; the object then
  // keeps the same identity so code holding the stub keeps working, `push` included.
  var early = Array.prototype.slice.call(api, 0);
  api.length = 0;
  api.herald = 1;
  api.push = function () {
    for (var i = 0; i < arguments.length; i++) {
      call(arguments[i]);
    }
    return 0;
  };
  for (var name in methods) {
    api[name] = methods[name];
  }
  api.load = api.on = api.off = function () {};
  w._cio = api;

  if (storage) {
    adoptAll();
    w.addEventListener('storage', function (e) {
      if (e.newValue) {
        adopt(e.key);
      }
    });
  }
  for (var i = 0; i < early.length; i++) {
    call(early[i]);
  }
  if (attr('auto-track-page') !== 'false') {
    methods.page();
  }

  w.addEventListener('online', wake);
  // At page hide, what is still queued goes out as beacons, which outlive the page. The items
  // stay saved, marked closed, so that the next page (of this tab or another) sends them again
  // if a beacon was lost; the server counts each event once.
  w.addEventListener('pagehide', function () {
    if (navigator.sendBeacon && navigator.onLine !== false) {
      for (var i = 0; i < queue.length; i++) {
        navigator.sendBeacon(url(queue[i]), new Blob([body(queue[i])], { type: TEXT }));
      }
    }
    closed = true;
    save();
  });
  w.addEventListener('pageshow', function (e) {
    if (e.persisted) {
      closed = false;
      save();
      wake();
    }
  });
  flush();
})(window, document);
