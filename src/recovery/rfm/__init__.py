"""Paper B, linear Recursive Feature Machines: kernel interpolation (:mod:`~recovery.rfm.kernel`),
lin-RFM (:mod:`~recovery.rfm.linrfm`), IRLS-p (:mod:`~recovery.rfm.irls`), the smoothing schedules they share
(:mod:`~recovery.rfm.schedules`), deep linear networks
(:mod:`~recovery.rfm.deep`) and the per-row method as published (:mod:`~recovery.rfm.published`)."""
