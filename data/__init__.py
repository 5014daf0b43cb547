"""The Cityscapes data layer, used by training and evaluation alike: the dataset layout, the augmentation
recipes, the MindSpore pipeline, the MindRecord cache and a generator of small street scenes in the real layout.

Modules: `cityscapes` (finding and reading samples), `recipes` (random parameters and their application),
`pipeline` (`make_dataset`), `cache` (`erfnet prepare`), `scenes` and `make_data` (`erfnet make-data`). The
label table is a fact (facts/labels.py).
"""
