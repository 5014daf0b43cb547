"""Cityscapes data: the label table, the dataset layout, both training recipes, the MindSpore pipeline,
the MindRecord cache and a generator of small street scenes in the real layout.

Modules: `labels` (ids, trainIds, colours), `cityscapes` (finding and reading samples), `recipes` (random
parameters and their application), `pipeline` (`make_dataset`), `cache` (`erfnet prepare`), `scenes` and
`make_data` (`erfnet make-data`).
"""
