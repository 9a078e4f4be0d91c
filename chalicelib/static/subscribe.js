/* FeedForward: the staff sign-up form's one enhancement. Once an organisation is chosen, the list
   of services holds only that organisation's (it starts with all of them, as it is without this
   script). The form works without it; the API checks the service is within the organisation. */
(function () {
  "use strict";
  var organisation = document.getElementById("organisation");
  var service = document.getElementById("service");
  if (!organisation || !service) { return; }
  // Every group as the page has it; each group's first option is its organisation.
  var groups = Array.prototype.slice.call(service.querySelectorAll("optgroup"));

  function narrow() {
    var chosen = organisation.value;
    var keep = service.value;
    groups.forEach(function (group) {
      var first = group.querySelector("option");
      var mine = !chosen || (first && first.value === chosen);
      if (mine && group.parentNode !== service) { service.appendChild(group); }
      if (!mine && group.parentNode === service) { service.removeChild(group); }
    });
    // A service of another organisation is no longer offered: back to "Choose the services".
    var still = Array.prototype.some.call(service.options, function (o) { return o.value === keep; });
    service.value = still ? keep : "";
  }

  organisation.addEventListener("change", narrow);
  narrow();
}());
