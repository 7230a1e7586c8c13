// 保存された部品（ウィジェット）の表示に使うものを、CDN ではなくサイトに置いた写しから読む。
// @jupyter-widgets/html-manager は、require.js で anywidget を読めればそれを使う（読めないときだけ CDN へ行く）。
// 部品のアイコンのフォントは、html-manager がページからの相対の場所（@jupyter-widgets/…）で探すので、
// docs/_extra/ に置いてサイトの一番上に写す（ページはどれもサイトの一番上にある）。
(function () {
  var here = document.currentScript.src.replace(/[^/]*$/, "");
  window.require.config({paths: {anywidget: here + "npm/anywidget/index"}});
})();
