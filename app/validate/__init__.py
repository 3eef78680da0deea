"""Validation: everything RedBrick would reject or silently get wrong, said before upload.

Validation: everything RedBrick would reject or silently get wrong, said before upload.

``validate(items, taxonomy, root, stages=)`` returns findings; it never raises for a
problem in the user's data. ``stages`` (the project's stage names, when validating
against a project) lets ``preAssign`` be checked against them. ``check_fields``: the
task-field checks alone (no file is read). Each finding has a severity, a stable code, where it
is (task name, series index, file, label value) and a message that says what
happens on import and how to fix it. Errors make an upload fail or store wrong
labels; warnings store something the user may not expect; info says what could
not be checked.

The mapping checks reason on the values RedBrick's SDK would see (floats rounded
half to even, negatives and values above 65535 wrapped), and the overlap check
runs the RedBrick-identical merge (``app.merge``) so overlap group ids are
exactly those RedBrick assigns. Every mask file is read once per run (and once
across runs when a ``FileCache`` is passed back in): a streamed census, never a
sort.

Findings are data (``Finding``: ``Severity``, ``Code``, task, series, file, value,
message); the CLI prints them, the wizard lists them. The codes, with their
severity (``Code.severity``; the table below is documentation, kept in sync with
``Code`` by a test):

| code | severity | meaning |
|---|---|---|
| format | error | a field of the items list has the wrong type or shape |
| no-tasks | error | the items list holds no tasks |
| task-name-missing | warning | a task has no name; RedBrick names it after its first image path |
| task-name-duplicate | error | two tasks share a name; RedBrick skips the second |
| task-no-series | error | a task lists no series |
| priority-range | error | `priority` is not a number from 0 to 1 |
| metadata-value | error | task `metaData` is not an object of text values |
| preassign-invalid | error | `preAssign` is not {stage: email or [emails]} |
| preassign-stage | error | `preAssign` names a stage the project does not have |
| preassign-email | error | a `preAssign` value is not an email address |
| classification-unknown | warning | a study classification attribute not in the taxonomy's studyClassify |
| attribute-number | error | a NUMBER attribute's value is not a number, or outside its min..max |
| attribute-option | error | a SELECT / MULTISELECT attribute's value is not among its options |
| attribute-type | error | an attribute's value has the wrong type (BOOL, TEXT, SELECT, MULTISELECT) |
| task-segment-map-flag | error | a task-level segmentMap holds a mask flag: nothing is uploaded |
| series-name-duplicate | warning | two series of a task share a name (exports are named after it) |
| items-missing | error | a series lists no image items |
| image-missing | error | an image file does not exist |
| image-type-unsupported | error | RedBrick refuses to upload an image with that file extension |
| image-dcm-name | warning | DICOM named without .dcm: RedBrick's CLI refuses it (Segmap renames) |
| image-unreadable | error | an image RedBrick cannot show (unreadable, broken header, no image) |
| grid-not-checked | info | the image's geometry could not be read (type not supported, remote) |
| remote-file | info | a path is a URL or storage key; it is not checked |
| file-missing | error | a segmentation or mask file does not exist |
| file-unreadable | error | a file cannot be read (permissions, a folder where a file is expected) |
| file-corrupt | error | corrupt or truncated gzip, or voxel data cut short |
| not-nifti | error | a segmentation is not a NIfTI file (.nii / .nii.gz) |
| dicom-seg-refused | error | a DICOM SEG RedBrick's SDK refuses to convert (label map, fractional, overlaps, ...) |
| mask-header-broken | error | a mask's header contradicts itself or its file (dims, size, offset, affine) |
| gzip-name-mismatch | error | .nii.gz not compressed, or .nii compressed: RedBrick cannot open it |
| segmentations-directory | warning | `segmentations` names a folder: merged in no defined order |
| mask-dimensions | error | a mask is 2-D or 4-D; RedBrick needs 3-D |
| values-non-integer | warning | fractional values; RedBrick rounds them (half to even) |
| values-negative | error | negative values; RedBrick wraps them to 65536 - n |
| values-over-65535 | error | values above 65535; RedBrick wraps them modulo 65536 |
| mask-scaled | error | scl_slope/scl_inter make a uint8/uint16 mask fractional: merge fails |
| values-non-finite | error | NaN or infinite values |
| empty-mask | warning | a mask file holds no labelled voxel |
| uncompressed-upload | warning | a single uint8 .nii is uploaded as is, under a .nii.gz name |
| grid-reoriented | warning | same voxels as the image, axes stored differently |
| grid-crop | error | the mask covers only part of the image's grid |
| grid-shifted | error | the image's grid moved by whole voxels: the mask's origin differs |
| grid-transposed | error | the mask's array axes are permuted but its affine is the image's |
| grid-flipped | error | the mask's affine reverses an axis without moving its origin |
| grid-resolution | error | the mask has another voxel size than the image |
| grid-mismatch | error | the mask does not line up with the image in world space |
| files-misaligned | error | segmentation files of one series are on different grids |
| no-segmentations | error | a segmentMap but no segmentation files |
| mapped-value-absent | error | a segmentMap id occurs in no file |
| unmapped-value | warning | a value in the files has no segmentMap entry: uneditable, view-only |
| instance-zero | warning | segmentMap id 0: RedBrick ignores it (0 is background) |
| segment-map-key | error | a segmentMap key that is no plain number ("01", "1_0") |
| id-out-of-range | error | an instance or group id outside 1..65535 |
| group-id-collision | error | an overlappingGroups id is also a segmentMap id |
| category-none | error | a segmentMap entry has no category |
| category-missing | error | the category is not in the taxonomy |
| category-archived | error | the category is archived in the taxonomy |
| category-not-segmentation | error | the category is not a SEGMENTATION category |
| category-ambiguous | warning | the category matches several taxonomy entries |
| attribute-unknown | warning | an attribute the category does not define |
| taxonomy-not-checked | info | no taxonomy given: categories were not checked |
| png-without-binary | error | pngMask without binaryMask |
| binary-flag-missing | error | entries name separate `mask` files but binaryMask is not set |
| binary-no-mask | error | binaryMask mode, an entry names no `mask` file |
| mask-list | error | `mask` lists several files (an MHD pair) that must be converted first |
| mask-shared | error | one mask file used by two segmentMap entries |
| mask-not-listed | error | a `mask` matches no `segmentations` entry as RedBrick compares paths |
| mask-unreferenced | warning | binaryMask: a file no `mask` names (first leaks, rest ignored) |
| mask-not-binary | warning | binaryMask mode, a file with several values; all become one label |
| overlap | warning | labels overlap; RedBrick stores the shared voxels as an overlap group |
| merge-failed | error | RedBrick's merge fails on this series |
| uint8-ids-over-255 | warning | uint8 first file, ids above 255: RedBrick's SDK distorts labels |
| suggestion-unreviewed | warning | (wizard) mappings suggested by Segmap that nobody reviewed |
| mask-converted | info | an NRRD mask: export and upload write it as NIfTI, which RedBrick reads |
| dicom-seg | info | a DICOM SEG mask: RedBrick's CLI needs --dicom-seg; Segmap converts it as the SDK does |
| dicom-seg-binary | error | binaryMask with a DICOM SEG: RedBrick's conversion keeps segment numbers, not masks |
| dicom-seg-mixed | warning | DICOM SEG and NIfTI/NRRD masks in one list: RedBrick's CLI cannot upload it in one run |
| rtstruct | info | an RT Structure Set: RedBrick's CLI needs --rt-struct; Segmap fills it as the SDK does |
| rtstruct-unreadable | error | an RTSTRUCT series that cannot be filled (no local images, several files, mixed keys) |
| rtstruct-refused | error | an RT Structure Set RedBrick's SDK refuses, or stores wrongly (images missing, not square) |
| rtstruct-binary | error | binaryMask with an RT Structure Set: the SDK fills one label map |
| rtstruct-roi-absent | error | a segmentMap ROI name no ROI of the structure set has: the SDK drops it |
| rtstruct-roi-unmapped | warning | an ROI the segmentMap does not name: RedBrick's SDK leaves it out entirely |
| rtstruct-overlap | warning | overlapping ROIs: in RedBrick's single label map the later one wins |
| rtstruct-contours | warning | what filling the contours found (outside the image, open lines, other frame) |
| rtstruct-mixed | warning | RT Structure Sets and other masks in one list: RedBrick's CLI cannot upload it in one run |
"""

from app.validate._codes import Code, Severity
from app.validate._fields import check_fields
from app.validate._files import FileCache
from app.validate._findings import Finding, counts, finding, sort_findings
from app.validate._run import validate, validate_work

__all__ = [
    "Code", "FileCache", "Finding", "Severity", "check_fields", "counts", "finding",
    "sort_findings", "validate", "validate_work"
]
