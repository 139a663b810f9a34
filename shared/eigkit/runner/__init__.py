"""The runner: a run is a straight line of small stages.

notebook + parameters -> validate (:mod:`.params`, :mod:`.grid`) -> execute (:mod:`.worker`, :mod:`.pool`)
-> record (:mod:`.manifest`) -> publish (:mod:`.report`); :mod:`.execute` holds them together and
:mod:`.check` / :mod:`.lab` serve ``eig check`` / ``eig lab``.
"""
