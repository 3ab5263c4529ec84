"""The Docker provisioner: nodes as containers of the distribution's image, through the docker SDK.

One job per module: :mod:`.engine` (client, host facts), :mod:`.privileges`
(--privileged or the fallback), :mod:`.images` (pull, load, errors), :mod:`.labels`
(ownership), :mod:`.cleanup` (leftovers of dead runs), :mod:`.supervisor` (the
in-container supervisor), :mod:`.node` (container start spec), :mod:`.diagnostics`
and :mod:`.provisioner` (the class). Nothing is imported here, so that reading one
module (labels, say) does not load the Docker client.
"""
