// Drawbridge's web UI: copy buttons for the install snippets, and a channel's project list
// narrowed as the search is typed. Every page works without this file: the buttons are
// hidden in the HTML until it shows them, and the search is a form the server answers.
"use strict";

function announce(button, text) {
  var status = document.querySelector(".copied");
  if (status) {
    status.textContent = text;
  }
  button.textContent = text === "" ? "Copy" : "Copied";
}

function selectText(element) {
  var range = document.createRange();
  range.selectNodeContents(element);
  var selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
}

function copyFrom(button) {
  var source = document.getElementById(button.getAttribute("data-copy"));
  if (!source) {
    return;
  }
  var text = source.textContent;
  var label = button.getAttribute("aria-label") || "the command";
  var done = function () {
    announce(button, label.replace(/^Copy/, "Copied") + ".");
  };
  var fallback = function () {
    // no clipboard API (a page served over plain http to another host): select the text
    // and ask for the old copy command; the selection stays for Ctrl+C either way
    selectText(source);
    var copied = false;
    try {
      copied = document.execCommand("copy");
    } catch (error) {
      copied = false;
    }
    if (copied) {
      done();
    } else {
      announce(button, "Selected: press Ctrl+C to copy.");
    }
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, fallback);
  } else {
    fallback();
  }
}

// PEP 503, as the server compares names: lower case, runs of - _ . as one -
function normalise(text) {
  return text.toLowerCase().replace(/[-_.]+/g, "-");
}

// hide the listed projects whose name lacks a typed word (Enter still asks the server,
// which searches every project, not only those listed)
function narrowAsTyped() {
  var box = document.getElementById("q");
  var list = document.querySelector("ul.projects");
  var found = document.getElementById("found");
  if (!box || !list || !found) {
    return;
  }
  var items = list.querySelectorAll("li[data-name]");
  var said = found.innerHTML;
  box.addEventListener("input", function () {
    var words = box.value.split(/\s+/).map(normalise).filter(Boolean);
    var shown = 0;
    Array.prototype.forEach.call(items, function (item) {
      var name = item.getAttribute("data-name");
      var keep = words.every(function (word) {
        return name.indexOf(word) !== -1;
      });
      item.hidden = !keep;
      shown += keep ? 1 : 0;
    });
    if (words.length === 0) {
      found.innerHTML = said;
    } else {
      found.textContent = shown + " of " + items.length + " listed projects match; " +
        "press Enter to search the whole channel";
    }
  });
}

document.addEventListener("DOMContentLoaded", function () {
  narrowAsTyped();
  var buttons = document.querySelectorAll("button[data-copy]");
  Array.prototype.forEach.call(buttons, function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      copyFrom(button);
    });
  });
});
