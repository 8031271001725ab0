from django.http import JsonResponse


def healthz(request):  # placeholder until the infra change lands
    return JsonResponse({"status": "ok"})


def readyz(request):
    return JsonResponse({"status": "ok"})
