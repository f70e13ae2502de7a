"""Print the markdown figure tables for a technique model's card from its dev_report.json.

    python scripts/card_tables.py redline/models/technique
"""

import json
import sys
from pathlib import Path

folder = Path(sys.argv[1] if len(sys.argv) > 1 else "redline/models/technique")
rep = json.loads((folder / "dev_report.json").read_text())
si, tc, flc = rep["dev_si"], rep["dev_tc"], rep["dev_flc"]
print("| task | precision | recall | F1 | predicted | gold |\n|---|---|---|---|---|---|")
for name, s in (("SI", si), ("TC (micro)", tc), ("FLC", flc)):
    print(f"| {name} | {s['precision']:.4f} | {s['recall']:.4f} | **{s['f1']:.4f}** | {s['n_pred']} | {s['n_gold']} |")
print(f"\nSI with the threshold chosen on one half of dev and scored on the other (two-fold): "
      f"{rep['si_two_fold_threshold_estimate']:.4f}. Calibration ECE (two-fold): {rep['calibration_ece_two_fold']:.4f}. "
      f"Decoding: {rep['decode']}.\n")
print("| technique | gold spans | TC P | TC R | TC F1 | FLC F1 |\n|---|---|---|---|---|---|")
for tech, s in sorted(tc["per_technique"].items(), key=lambda kv: -kv[1]["n_gold"]):
    f = flc["per_technique"].get(tech, {}).get("f1", 0.0)
    print(f"| {tech} | {s['n_gold']} | {s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} | {f:.3f} |")
