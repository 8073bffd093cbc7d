"""Reproductions of the original's experiments, run on the sweep runner, and the pretrained
long runs the course shows (:mod:`~setcourse.reproduce.protocols`, :mod:`~.run`,
:mod:`~.pretrained`, :mod:`~.recorders`, :mod:`~.cli`)."""
