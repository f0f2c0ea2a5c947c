"""Stable bytes for generated XLSX files: the same content gives the same file.

openpyxl stamps the save time in ``docProps/core.xml`` and in every zip entry; the shipped
registry template and the synthetic cohort's partner workbooks are both compared byte for byte
(the codebook's sync test, the generator's same-seed test), so both pass through here.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile

#: The one timestamp written into generated workbooks.
FIXED_TIME = dt.datetime(2024, 1, 1, 0, 0, 0)
_FIXED_ISO = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
_CORE_TIMES = re.compile(rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)")


def stable_xlsx(data: bytes) -> bytes:
    """Rewrite an XLSX archive with fixed entry times and fixed created/modified properties.

    Parameters
    ----------
    data : bytes
        The workbook as openpyxl saved it.

    Returns
    -------
    bytes
        The same workbook, its timestamps set to :data:`FIXED_TIME`.
    """
    source = zipfile.ZipFile(io.BytesIO(data))
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = _CORE_TIMES.sub(rb"\g<1>" + _FIXED_ISO + rb"\g<3>", content)
            entry = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME.timetuple()[:6])
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            target.writestr(entry, content)
    return output.getvalue()
