"""PatchCore (Roth et al. 2022; paper section 5.1): memory bank of locally aware patch features."""
