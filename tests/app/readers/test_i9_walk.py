"""What a scan looks into: linked folders are followed, once; hidden entries are not."""

from __future__ import annotations

from app.readers import walk_folder


def test_linked_folders_are_followed_once_and_hidden_entries_skipped(tmp_path):
    shared = tmp_path / "storage" / "ct"
    shared.mkdir(parents=True)
    (shared / "a.nii.gz").write_bytes(b"")
    root = tmp_path / "dataset"
    (root / "case1").mkdir(parents=True)
    (root / "case1" / "image").symlink_to(shared, target_is_directory=True)
    (root / "case1" / "loop").symlink_to(root, target_is_directory=True)  # back up the tree
    (root / ".git").mkdir()
    (root / ".git" / "x.nii.gz").write_bytes(b"")
    (root / "__MACOSX").mkdir()
    (root / "case1" / ".hidden.nii.gz").write_bytes(b"")
    files = [str((folder / f).relative_to(root)) for folder, _, names in walk_folder(root)
             for f in names]
    assert files == ["case1/image/a.nii.gz"]
