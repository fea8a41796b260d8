// Drawbridge's web UI: copy buttons for the install snippets. Every page works without
// this file; it only shows the buttons (hidden in the HTML) and makes them copy.
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

document.addEventListener("DOMContentLoaded", function () {
  var buttons = document.querySelectorAll("button[data-copy]");
  Array.prototype.forEach.call(buttons, function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      copyFrom(button);
    });
  });
});
