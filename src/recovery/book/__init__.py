"""The book's machinery: the figure registry and its files (:mod:`~recovery.book.figures`),
resumable sweeps (:mod:`~recovery.book.sweep`), provenance, atomic files and the ``recovery``
command line. Reads the experiments; nothing below imports it."""
