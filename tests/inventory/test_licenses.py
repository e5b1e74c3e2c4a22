"""Licence resolution: right, not just SPDX-shaped."""

from __future__ import annotations

from pathlib import Path

from scanner.inventory import licenses
from tests.inventory.conftest import site_packages

GPL3_HEAD = "GNU GENERAL PUBLIC LICENSE\n                       Version 3, 29 June 2007\n\n Copyright (C) 2007 FSF"
LGPL21_HEAD = "GNU LESSER GENERAL PUBLIC LICENSE\n                       Version 2.1, February 1999\n"


def resolve(**kw: object) -> tuple[str, bool, str] | None:
    args = {"expression": None, "license_field": None, "license_texts": [], "classifiers": []}
    args.update(kw)
    r = licenses.resolve(**args)  # type: ignore[arg-type]
    return (r.value, r.spdx, r.source) if r else None


def test_expression_first_and_normalised() -> None:
    assert resolve(expression="mit", license_field="BSD") == ("MIT", True, "License-Expression")
    assert resolve(expression="apache-2.0 or bsd-2-clause") == (
        "Apache-2.0 OR BSD-2-Clause",
        True,
        "License-Expression",
    )


def test_license_field_only_when_it_is_spdx() -> None:
    assert resolve(license_field="Apache 2.0") == ("Apache-2.0", True, "License")
    assert resolve(license_field="MIT OR Apache-2.0") == ("MIT OR Apache-2.0", True, "License")
    # vague: stays a name, classifiers cannot make it more precise than they are
    assert resolve(license_field="BSD", classifiers=["License :: OSI Approved :: BSD License"]) == (
        "BSD",
        False,
        "License",
    )


def test_classifiers_never_invent_a_version() -> None:
    lgpl = "License :: OSI Approved :: GNU Library or Lesser General Public License (LGPL)"
    assert resolve(classifiers=[lgpl]) == ("GNU Library or Lesser General Public License (LGPL)", False, "classifier")
    later = "License :: OSI Approved :: GNU Lesser General Public License v2 or later (LGPLv2+)"
    assert resolve(classifiers=[later]) == ("LGPL-2.0-or-later", True, "classifier")
    dual = ["License :: OSI Approved :: MIT License", "License :: OSI Approved :: ISC License (ISCL)"]
    assert resolve(classifiers=dual) == ("ISC OR MIT", True, "classifier")


def test_licence_files_identify_gnu_versions_and_notices() -> None:
    notice = "This library is free software; you can redistribute it under the terms of the GNU Lesser General "
    notice += "Public License as published by the Free Software Foundation; either version 2.1 of the License, "
    notice += "or (at your option) any later version.\n\n"
    assert licenses.identify_text(notice + LGPL21_HEAD) == ["LGPL-2.1-or-later"]
    assert licenses.identify_text(GPL3_HEAD) == ["GPL-3.0-only"]
    whole_text_field = "Copyright (c) 2020 X\n\n" + MIT_TEXT
    assert resolve(license_field=whole_text_field) == ("MIT", True, "License")


def test_dual_licence_files_of_packaging_combine_with_or(test_venv: Path) -> None:
    folder = site_packages(test_venv) / "packaging-26.3.dist-info" / "licenses"
    texts = [(p.name, p.read_text()) for p in sorted(folder.iterdir())]
    result = licenses.from_files(texts)
    assert result is not None
    assert (result.value, result.source) == ("Apache-2.0 OR BSD-2-Clause", "license-file")


def test_unknown_text_is_a_short_name_never_the_text() -> None:
    text = "Proprietary licence of Example Corp.\n" + "All rights reserved. " * 200
    value = resolve(license_field=text)
    assert value == ("Proprietary licence of Example Corp.", False, "License")


MIT_TEXT = """Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND.
"""
