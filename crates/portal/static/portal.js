// Progressive enhancement only: every form works without this script. It tells the person,
// as they type, whether an identifier is valid (format, date and Luhn check digit), the same
// rules the node applies when the request is sent; and on the compose page it uploads the
// chosen files with tus, showing each file's progress, before the letter is sent.
(function () {
  "use strict";
  function luhn(digits) {
    var sum = 0;
    for (var i = 0; i < digits.length; i++) {
      var d = digits.charCodeAt(i) - 48;
      if (i % 2 === 0) { d *= 2; if (d > 9) d -= 9; }
      sum += d;
    }
    return sum % 10 === 0;
  }
  function valid(text) {
    var t = text.trim().replace(/[-+]/, "");
    if (!/^\d{10}$|^\d{12}$/.test(t)) return false;
    var ten = t.length === 12 ? t.slice(2) : t;
    if (!luhn(ten)) return false;
    var month = parseInt(ten.slice(2, 4), 10);
    var day = parseInt(ten.slice(4, 6), 10);
    if (month >= 20) return true; // organisationsnummer: third digit 2 or more
    if (day > 60) day -= 60; // samordningsnummer
    return month >= 1 && month <= 12 && day >= 1 && day <= 31;
  }
  var input = document.getElementById("subject");
  var hint = document.getElementById("subject-hint");
  if (!input || !hint) return;
  function check() {
    if (input.value.trim() === "") { hint.textContent = ""; input.removeAttribute("aria-invalid"); return; }
    var ok = valid(input.value);
    hint.textContent = ok ? hint.dataset.ok : hint.dataset.bad;
    hint.className = ok ? "hint ok" : "hint error";
    input.setAttribute("aria-invalid", ok ? "false" : "true");
  }
  input.addEventListener("input", check);
  check();
})();

// Files attached to a letter: each is uploaded with tus 1.0 through the portal (which relays it
// to the node as the signed-in officer) in pieces, with a progress bar per file; a piece cut off
// is resumed from the offset the node reports. When every file is up, their uploads are named in
// the form and the form is sent as without this script.
(function () {
  "use strict";
  var form = document.getElementById("compose");
  var input = document.getElementById("attach");
  var list = document.getElementById("file-list");
  var status = document.getElementById("upload-status");
  if (!form || !input || !list || !status || !window.XMLHttpRequest) return;
  document.getElementById("files").hidden = false;
  var csrf = form.querySelector("input[name=csrf]").value;
  var PIECE = 8 * 1024 * 1024;
  var TRIES = 5;
  var bars = [];

  function encode(text) {
    var bytes = new TextEncoder().encode(text);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
    return btoa(binary);
  }
  function call(method, url, headers, body, progress) {
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      xhr.open(method, url);
      xhr.setRequestHeader("Tus-Resumable", "1.0.0");
      xhr.setRequestHeader("X-CSRF-Token", csrf);
      Object.keys(headers).forEach(function (name) { xhr.setRequestHeader(name, headers[name]); });
      if (progress) xhr.upload.onprogress = progress;
      xhr.onload = function () { resolve(xhr); };
      xhr.onerror = function () { reject(xhr); };
      xhr.send(body);
    });
  }
  function why(xhr) {
    try { return JSON.parse(xhr.responseText).detail || xhr.statusText; } catch (e) { return xhr.statusText || "network"; }
  }
  function wait(ms) { return new Promise(function (resolve) { setTimeout(resolve, ms); }); }
  function offsetOf(xhr) { return Number(xhr.getResponseHeader("Upload-Offset")); }

  // Sends `file` from `offset` on; after a cut or a conflict asks the node where it stands.
  function sendFrom(url, file, offset, bar, failures) {
    if (offset >= file.size) return Promise.resolve(url);
    var end = Math.min(offset + PIECE, file.size);
    var headers = { "Upload-Offset": String(offset), "Content-Type": "application/offset+octet-stream" };
    return call("PATCH", url, headers, file.slice(offset, end), function (e) { bar.value = offset + e.loaded; })
      .then(function (xhr) {
        if (xhr.status !== 204) throw xhr;
        bar.value = offsetOf(xhr);
        return sendFrom(url, file, offsetOf(xhr), bar, 0);
      })
      .catch(function (xhr) {
        var retry = xhr.status === 0 || xhr.status === 409 || xhr.status >= 500;
        if (!retry || failures + 1 >= TRIES) throw xhr;
        return wait(500 * Math.pow(2, failures))
          .then(function () { return call("HEAD", url, {}, null); })
          .then(function (head) {
            if (head.status !== 200) throw head;
            bar.value = offsetOf(head);
            return sendFrom(url, file, offsetOf(head), bar, failures + 1);
          });
      });
  }
  function upload(file, bar) {
    var metadata = "filename " + encode(file.name) + ",filetype " + encode(file.type || "application/octet-stream");
    return call("POST", form.dataset.uploads, { "Upload-Length": String(file.size), "Upload-Metadata": metadata }, null)
      .then(function (xhr) {
        if (xhr.status !== 201) throw xhr;
        return sendFrom(xhr.getResponseHeader("Location"), file, 0, bar, 0);
      });
  }

  input.addEventListener("change", function () {
    list.textContent = "";
    bars = Array.prototype.map.call(input.files, function (file) {
      var item = document.createElement("li");
      var label = document.createElement("span");
      label.textContent = file.name;
      var bar = document.createElement("progress");
      bar.max = Math.max(file.size, 1);
      bar.value = 0;
      bar.setAttribute("aria-label", file.name);
      item.appendChild(label);
      item.appendChild(bar);
      list.appendChild(item);
      return bar;
    });
  });

  var busy = false;
  form.addEventListener("submit", function (event) {
    if (input.files.length === 0) return;
    event.preventDefault();
    if (busy) return;
    busy = true;
    var button = form.querySelector("button[type=submit]");
    button.disabled = true;
    status.textContent = form.dataset.uploading;
    var files = Array.prototype.slice.call(input.files);
    var done = files.reduce(function (previous, file, i) {
      return previous.then(function (urls) {
        return upload(file, bars[i]).then(function (url) { return urls.concat([url]); });
      });
    }, Promise.resolve([]));
    done.then(function (urls) {
      urls.forEach(function (url) {
        var named = document.createElement("input");
        named.type = "hidden";
        named.name = "attachment";
        named.value = url.slice(url.lastIndexOf("/") + 1);
        form.appendChild(named);
      });
      status.textContent = form.dataset.uploaded;
      form.submit();
    }, function (xhr) {
      status.textContent = form.dataset.uploadFailed + " " + why(xhr);
      busy = false;
      button.disabled = false;
    });
  });
})();
