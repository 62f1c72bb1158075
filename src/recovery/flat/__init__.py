"""Paper A, flat minima: Hessian traces of factorised losses, the rescaling matrices and flat
solutions (:mod:`~recovery.flat.flatness`), and factorised gradient descent, plain and
trace-penalised (:mod:`~recovery.flat.descent`)."""
