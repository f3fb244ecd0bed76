"""Print streams: readers and writers for AFP, PDF, PostScript and PCL; see base.py."""
