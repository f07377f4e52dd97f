# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""``model-index.yml`` and the metafiles it imports name every config (mim's
model list), and every config they name exists."""
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]


def load_models():
    index = yaml.safe_load((REPO_ROOT / 'model-index.yml').read_text())
    models, collections = [], set()
    for rel in index['Import']:
        meta = yaml.safe_load((REPO_ROOT / rel).read_text())
        collections |= {c['Name'] for c in meta.get('Collections', [])}
        models += meta['Models']
    return models, collections


def test_every_config_is_named_and_every_named_config_exists():
    models, collections = load_models()
    named = [m['Config'] for m in models]
    assert len(set(named)) == len(named), 'a config is named twice'
    missing = [c for c in named if not (REPO_ROOT / c).is_file()]
    assert not missing, f'the metafile names missing configs: {missing}'
    configs = sorted(
        str(p.relative_to(REPO_ROOT))
        for p in (REPO_ROOT / 'configs').glob('*/*.py')
        if p.parent.name != '_base_')
    unnamed = sorted(set(configs) - set(named))
    assert not unnamed, ('configs without a metafile entry (add them to '
                         f'configs/<method>/metafile.yaml): {unnamed}')


def test_models_follow_the_metafile_format():
    models, collections = load_models()
    assert collections == {'HSNet'}
    names = [m['Name'] for m in models]
    assert len(set(names)) == len(names)
    for m in models:
        assert m['In Collection'] in collections, m['Name']
        assert m['Name'] == Path(m['Config']).stem
        assert m['Results']['Task'] == 'Few-shot Semantic Segmentation'
        assert m['Results']['Dataset'].split(
            ' fold ')[0] in m['Metadata']['Training Data'], m['Name']
        assert m['Metadata']['Architecture'][-1] == 'HSNet'
        assert m['Name'].endswith(f"_{m['Metadata']['Shots']}shot")
