"""05 を通常モード（本物の MNIST）で実行し、実験ごとの学習の記録を tests/fixtures/ に保存する。

tests/test_diagnosis.py は、この記録（05 の実際の失敗と修正の曲線）で diagnose の判定を確かめる。
05 の実験を変えたら、このスクリプトで記録を作り直し、判定が本文と合っているかを確かめる。

使い方（リポジトリの一番上で）:
    COURSE_DATA_DIR=../shared/data .venv/bin/python scripts/record_histories_05.py
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from course_utils.setup import is_quick

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "05_four_vs_nine.ipynb"
OUTPUT = ROOT / "tests" / "fixtures" / "histories_05.json"
KEYS = ("train_loss", "train_acc", "val_loss", "val_acc")

# ノートブックの最後に足して実行するセル（ノートブック自体は変えない）
DUMP_CELL = """
import json as _json
_groups = {"main": {"CNN 40 エポック": history}, "lr": lr_histories,
           "underfitting": under_histories, "memorizing": memorize_histories,
           "labels": label_histories, "overfitting": overfit_histories}
_records = {group: {name: {key: [float(f"{v:.6g}") for v in h[key]] for key in %r}
                    for name, h in runs.items()} for group, runs in _groups.items()}
_records["baseline_main"] = majority_acc
_json.dump(_records, open(%r, "w"), ensure_ascii=False, indent=1)
"""


def main() -> int:
    if is_quick():
        print("クイックモードの記録は意味がないので、COURSE_QUICK を外して実行してください")
        return 1
    nb = nbformat.read(NOTEBOOK, as_version=4)
    with tempfile.TemporaryDirectory() as tmp:
        dump = Path(tmp) / "histories.json"
        nb.cells.append(nbformat.v4.new_code_cell(DUMP_CELL % (KEYS, str(dump))))
        NotebookClient(nb, timeout=1800, kernel_name="python3",
                       resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
        records = json.loads(dump.read_text())
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(records, ensure_ascii=False, indent=1) + "\n")
    print(f"{OUTPUT.relative_to(ROOT)} に保存しました"
          f"（{sum(len(v) for v in records.values() if isinstance(v, dict))} 件の学習）")
    return 0


if __name__ == "__main__":
    sys.exit(main())
