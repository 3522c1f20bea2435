"""Evaluation: the paper's metrics (section 7), reports and model comparison.

metrics     image/pixel AUROC, AU-PR, AUPRO@0.3, IoU-max, FP_share, size-aware FN (numpy)
histogram   streaming pixel-score histograms (bounded memory, error bounds)
dataset     the MVTec-layout test split: listing, masks (repaired and said), ROI
runner      one model over the test split, one image in memory at a time
summary     metrics.json (the contract's keys) and details.json
write       report folder files; reading them back
report      report.md and the PNG figures
compare     several runs: mean ± std tables, paired t-tests + BH, ROI error changes
"""
