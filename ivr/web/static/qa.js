// The QA pages. On a call's page, a transcript line seeks its recording's player to the line's
// start and plays it; lines are <button>s, so Enter and Space work as a click does. On the call
// list, the filter form leaves its empty fields out of the URL (the server ignores them anyway:
// without this script everything still works). Loaded as a file: the pages'
// Content-Security-Policy allows no inline script.
"use strict";

(function () {
  function markPlaying(line) {
    document.querySelectorAll(".transcript-line[aria-current]").forEach(function (other) {
      other.removeAttribute("aria-current");
    });
    line.setAttribute("aria-current", "true");
  }

  function seek(line) {
    var player = document.getElementById(line.dataset.player || "");
    var start = Number.parseFloat(line.dataset.start || "");
    if (!player || !Number.isFinite(start)) {
      return;
    }
    player.currentTime = start;
    markPlaying(line);
    var playing = player.play();
    if (playing && typeof playing.catch === "function") {
      playing.catch(function () {
        // Autoplay refused or the audio failed to load: the player shows its own state.
      });
    }
  }

  var filters = document.getElementById("filters");
  if (filters) {
    filters.addEventListener("submit", function () {
      filters.querySelectorAll("input[name], select[name]").forEach(function (field) {
        if (field.value === "") {
          field.disabled = true;
        }
      });
    });
    // Coming back to the page (history), the fields must be usable again.
    window.addEventListener("pageshow", function () {
      filters.querySelectorAll("[disabled]").forEach(function (field) {
        field.disabled = false;
      });
    });
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!(target instanceof Element)) {
      return;
    }
    var line = target.closest(".transcript-line");
    if (line) {
      event.preventDefault();
      seek(line);
    }
  });
})();
