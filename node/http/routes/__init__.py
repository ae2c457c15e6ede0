"""The handlers, one module per audience: ``public`` (anyone), ``peers`` (the operator's view of peers),
``admin``, ``assemblies`` and ``motions`` (a council's operator), ``fedbody`` (a federation body's operator),
``federation`` (applicants and the public view of a federation body)."""
