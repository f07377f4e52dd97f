# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Install hsnet-mm: ``pip install -e .`` (see README for the full stack)."""
import os.path as osp
import re
from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def read_version() -> str:
    """Read ``__version__`` from ``hsnet_mm/version.py`` without importing."""
    with open(osp.join(HERE, 'hsnet_mm', 'version.py')) as f:
        match = re.search(r"^__version__ = '([^']+)'", f.read(), re.M)
    return match.group(1)


def parse_requirements(name: str) -> list:
    """Return the requirement lines of ``requirements/<name>``."""
    with open(osp.join(HERE, 'requirements', name)) as f:
        lines = (line.split('#')[0].strip() for line in f)
        return [line for line in lines if line]


if __name__ == '__main__':
    setup(
        name='hsnet_mm',
        version=read_version(),
        description='HSNet (Hypercorrelation Squeeze Networks for Few-Shot '
        'Segmentation) as OpenMMLab / mmsegmentation components',
        long_description=open(osp.join(HERE, 'README.md')).read(),
        long_description_content_type='text/markdown',
        license='Apache-2.0',
        python_requires='>=3.8',
        packages=find_packages(exclude=('configs', 'tools', 'tests')),
        include_package_data=True,
        install_requires=parse_requirements('runtime.txt'),
        extras_require={
            'tests': parse_requirements('tests.txt'),
            'optional': parse_requirements('optional.txt'),
            'deploy': parse_requirements('deploy.txt'),
            'mim': parse_requirements('mminstall.txt'),
        },
        classifiers=[
            'Programming Language :: Python :: 3',
            'Topic :: Scientific/Engineering :: Artificial Intelligence',
        ],
        zip_safe=False)
