// 講座のサイトの小さな手直し（どのページでも読む）。
(function () {
  // 目次のボタン: pydata-sphinx-theme 0.17 からは同じ印（.primary-toggle など）のボタンがページに 2 つあり、
  // テーマは最初の（隠れている）ほうにだけ動きを付ける。見えているほうが押されたら、最初のほうを押す
  // （pydata-sphinx-theme の issue #2451。直ったら、この部分は要らない）。
  function forwardToggles() {
    ["primary-toggle", "secondary-toggle"].forEach(function (name) {
      var buttons = Array.prototype.slice.call(document.querySelectorAll("." + name));
      buttons.slice(1).forEach(function (button) {
        button.addEventListener("click", function (event) {
          event.preventDefault();
          event.stopImmediatePropagation();
          buttons[0].click();
        }, true);
      });
    });
  }
  // 出力の図: 押すと、元の大きさの図を新しいタブで開く（スマートフォンで細かい文字を拡大して読めるように）
  function linkFigures() {
    document.querySelectorAll(".cell_output img").forEach(function (img) {
      if (img.closest("a") || img.closest(".jupyter-widgets")) return;
      var link = document.createElement("a");
      link.href = img.currentSrc || img.src;
      link.target = "_blank";
      link.rel = "noopener";
      link.title = "元の大きさで開く";
      img.parentNode.insertBefore(link, img);
      link.appendChild(img);
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    forwardToggles();
    linkFigures();
  });
})();
