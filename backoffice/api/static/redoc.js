// Starts ReDoc on /redoc. A file of its own, not an inline script: the
// Content-Security-Policy lets the pages run scripts from this site only.
"use strict";
(function () {
  // ReDoc's side menu shows Redocly's logo from Redocly's CDN, and no option leaves it out:
  // the policy would block it, with an error in the console. An image from another host gets
  // no source instead, so the page asks no other host for anything (ReDoc then drops the
  // logo). React sets an image's source both ways, as an attribute and as the property; both
  // are guarded before ReDoc draws anything.
  const fromHere = (url) => {
    const { origin, protocol } = new URL(String(url), document.baseURI);
    return origin === location.origin || protocol === "data:" || protocol === "blob:";
  };
  const setAttribute = Element.prototype.setAttribute;
  Element.prototype.setAttribute = function (name, value) {
    const source = this instanceof HTMLImageElement && String(name).toLowerCase() === "src";
    return setAttribute.call(this, name, source && !fromHere(value) ? "" : value);
  };
  const src = Object.getOwnPropertyDescriptor(HTMLImageElement.prototype, "src");
  Object.defineProperty(HTMLImageElement.prototype, "src", {
    ...src,
    set(value) {
      src.set.call(this, fromHere(value) ? value : "");
    },
  });

  // The fonts the machine has, not ReDoc's Roboto and Montserrat (which its usual page
  // fetches from Google).
  const text = '"Noto Sans", "Noto Sans CJK SC", "Microsoft YaHei", system-ui, sans-serif';
  const code = '"DejaVu Sans Mono", Consolas, "Courier New", monospace';
  const root = document.getElementById("redoc");
  Redoc.init(
    root.dataset.openapiUrl,
    {
      theme: {
        typography: { fontFamily: text, headings: { fontFamily: text }, code: { fontFamily: code } },
      },
    },
    root,
  );
})();
