"""Emulated platform APIs (OnlyFans, Fansly, LoyalFans, TikTok) served over real local HTTP."""
