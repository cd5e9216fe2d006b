/* Warmline dynamic number insertion: shows this visit's tracking number in place of the number
 * printed on the page (text in any common US format, and tel: links), the same number for the
 * whole visit, also in what the page adds later. Paste into the page (the number as it is printed there):
 *
 *   <script async src="https://WARMLINE/dni/dni.js"
 *           data-campaign="CAMPAIGN-ID" data-number="+18005550100"></script>
 *
 * No dependencies and no requests but to the Warmline server it came from. Whatever fails (the
 * server unreachable or answering an error, storage refused), the printed number stays.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !window.fetch || !window.JSON) return;
  var campaign = script.getAttribute("data-campaign") || "";
  var printed = digits10(script.getAttribute("data-number") || "");
  if (!/^[a-z][a-z0-9_-]{0,63}$/.test(campaign) || !printed) return;
  var endpoint;
  try {
    endpoint = new URL(campaign + "/lease", script.src).href;
  } catch (e) {
    return;
  }
  var VISIT_KEY = "warmline_visit";
  var LEASE_KEY = "warmline_lease_" + campaign;
  var FIELDS = ["utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content",
    "gclid", "msclkid", "fbclid"];
  var shown = printed;
  var wanted = null;
  var waiting = false;
  var renewal = null;

  function digits10(text) {
    var d = String(text).replace(/\D/g, "");
    if (d.length === 11 && d.charAt(0) === "1") d = d.slice(1);
    return d.length === 10 ? d : "";
  }

  function load(key) {
    try {
      var value = window.localStorage.getItem(key);
      if (value !== null) return value;
    } catch (e) { /* storage refused: the cookie below */ }
    var found = document.cookie.match(new RegExp("(?:^|; )" + key + "=([^;]*)"));
    return found ? decodeURIComponent(found[1]) : null;
  }

  function save(key, value, seconds) {
    try {
      window.localStorage.setItem(key, value);
      return;
    } catch (e) { /* storage refused: a first-party cookie instead */ }
    document.cookie = key + "=" + encodeURIComponent(value) + "; max-age=" +
      Math.max(1, Math.floor(seconds)) + "; path=/; SameSite=Lax";
  }

  function visitId() {
    var id = load(VISIT_KEY);
    if (id && /^[A-Za-z0-9_-]{16,64}$/.test(id)) return id;
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    id = "";
    for (var i = 0; i < bytes.length; i++) id += ("0" + bytes[i].toString(16)).slice(-2);
    save(VISIT_KEY, id, 30 * 86400);
    return id;
  }

  function pattern(d) {
    var sep = "[\\s.\\-\\u00a0]?";
    return new RegExp("(^|[^\\d])((?:\\+?1" + sep + ")?\\(?" + d.slice(0, 3) + "\\)?" + sep +
      d.slice(3, 6) + sep + d.slice(6) + ")(?!\\d)", "g");
  }

  function restyle(text, to) {
    var all = text.replace(/\D/g, "").length === 11 ? "1" + to : to;
    var i = 0;
    return text.replace(/\d/g, function () { return all.charAt(i++); });
  }

  function swap(from, to) {
    var re = pattern(from);
    var walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT, null);
    var nodes = [];
    var node;
    while ((node = walker.nextNode())) {
      var parent = node.parentNode ? node.parentNode.nodeName : "";
      if (/^(SCRIPT|STYLE|NOSCRIPT|TEXTAREA)$/.test(parent)) continue;
      re.lastIndex = 0;
      if (re.test(node.nodeValue)) nodes.push(node);
    }
    for (var k = 0; k < nodes.length; k++) {
      re.lastIndex = 0;
      nodes[k].nodeValue = nodes[k].nodeValue.replace(re, function (all, lead, number) {
        return lead + restyle(number, to);
      });
    }
    var links = document.querySelectorAll("a[href^='tel:'], a[href^='TEL:']");
    for (var n = 0; n < links.length; n++) {
      if (digits10(links[n].getAttribute("href").slice(4)) === from) {
        links[n].setAttribute("href", "tel:+1" + to);
      }
    }
  }

  var observer = null;
  var rescan = null;
  var WATCHED = { childList: true, subtree: true, characterData: true };

  function quietly(change) {
    if (observer) observer.disconnect();
    try {
      change();
    } finally {
      if (observer) observer.observe(document.body, WATCHED);
    }
  }

  function watch() {
    // Pages that render later (a chat widget, a single-page app, a lazy footer) print the
    // number again after the first swap: swap what they add too, at most every 100 ms.
    if (observer || !window.MutationObserver) return;
    observer = new MutationObserver(function () {
      if (rescan) return;
      rescan = setTimeout(function () {
        rescan = null;
        if (shown !== printed) quietly(function () { swap(printed, shown); });
      }, 100);
    });
    observer.observe(document.body, WATCHED);
  }

  function apply() {
    waiting = false;
    if (!wanted || wanted === shown || !document.body) return;
    var from = shown;
    quietly(function () { swap(from, wanted); });
    shown = wanted;
    watch();
  }

  function show(number) {
    var to = digits10(number);
    if (!to || !/^\+1\d{10}$/.test(number)) return;
    wanted = to;
    if (document.readyState !== "loading") {
      apply();
    } else if (!waiting) {
      waiting = true;
      document.addEventListener("DOMContentLoaded", apply);
    }
  }

  function cached() {
    try {
      var lease = JSON.parse(load(LEASE_KEY) || "null");
      if (lease && typeof lease.number === "string" && lease.until > Date.now()) return lease;
    } catch (e) { /* unreadable: ask again */ }
    return null;
  }

  function schedule(lease) {
    if (renewal) clearTimeout(renewal);
    var left = (lease.until - Date.now()) / 1000;
    var wait = Math.max(5, left - Math.min(60, left / 2));
    renewal = setTimeout(function () {
      if (document.hidden) {
        document.addEventListener("visibilitychange", function again() {
          document.removeEventListener("visibilitychange", again);
          ask();
        });
      } else {
        ask();
      }
    }, wait * 1000);
  }

  function ask() {
    var query = new URLSearchParams(window.location.search);
    var referrer = /^https?:\/\//.test(document.referrer) ? document.referrer : "";
    var body = {
      visit_id: visitId(),
      page: window.location.href.slice(0, 2048),
      referrer: referrer.slice(0, 2048)
    };
    for (var i = 0; i < FIELDS.length; i++) {
      var value = query.get(FIELDS[i]);
      if (value) body[FIELDS[i]] = value.trim().slice(0, 200);
    }
    var controller = window.AbortController ? new AbortController() : null;
    var timer = controller ? setTimeout(function () { controller.abort(); }, 8000) : null;
    fetch(endpoint, {
      method: "POST",
      mode: "cors",
      credentials: "omit",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      signal: controller ? controller.signal : undefined
    }).then(function (response) {
      if (!response.ok) throw new Error("warmline: lease " + response.status);
      return response.json();
    }).then(function (answer) {
      var seconds = Number(answer && answer.expires_in);
      if (typeof answer.number !== "string" || !(seconds > 0)) return;
      var lease = { number: answer.number, until: Date.now() + seconds * 1000 };
      save(LEASE_KEY, JSON.stringify(lease), seconds);
      show(lease.number);
      schedule(lease);
    }).catch(function () {
      /* quiet: the number already shown stays */
    }).then(function () {
      if (timer) clearTimeout(timer);
    });
  }

  var lease = cached();
  if (lease) {
    show(lease.number);
    schedule(lease);
  } else {
    ask();
  }
})();
