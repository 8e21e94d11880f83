"""The model repository on disk: layout scan, atomic writes, project file, render, scaffold, golden."""
