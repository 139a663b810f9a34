"""The runner: a run is a straight line of small stages.

notebook + parameters -> validate (:mod:`.params`, :mod:`.grid`) -> execute (:mod:`.worker` with papermill's
engine :mod:`.engine`, :mod:`.pool`; :mod:`.partial` reads where a stopped run stopped, :mod:`.lifeline`
makes workers die with the driver) -> record (:mod:`.manifest`) -> publish (:mod:`.report`);
:mod:`.execute` holds them together and :mod:`.check` / :mod:`.lab` serve ``eig check`` / ``eig lab``.
"""
