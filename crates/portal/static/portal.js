// Progressive enhancement only: every form works without this script. It tells the person,
// as they type, whether an identifier is valid (format, date and Luhn check digit), the same
// rules the node applies when the request is sent.
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
