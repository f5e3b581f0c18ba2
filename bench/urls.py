"""OwlGrid's URLs plus a plain Django view doing one insert: the web baseline."""

from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from owlgrid_site.urls import urlpatterns as owlgrid_urlpatterns


@csrf_exempt
def baseline(request):
    from workflows.models import Collection, Record

    collection = Collection.objects.get(name="bench-baseline")
    record = Record.objects.create(collection=collection, data={"n": 1})
    return JsonResponse({"id": str(record.id)})


urlpatterns = [path("bench/baseline", baseline), *owlgrid_urlpatterns]
